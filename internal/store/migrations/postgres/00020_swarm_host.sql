-- +goose Up
-- Where a cluster engine (--engine swarm) runs an install (docs/host-stackhub.md §6): the node it named ('' for
-- any), and what its template requires, reserved on its main service: CPU in thousandths of a core, memory in
-- bytes (0: nothing reserved).
ALTER TABLE instances ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN reserve_millicpus BIGINT NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN reserve_memory BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE instances DROP COLUMN reserve_memory;
ALTER TABLE instances DROP COLUMN reserve_millicpus;
ALTER TABLE instances DROP COLUMN node;
