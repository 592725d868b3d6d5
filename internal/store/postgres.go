package store

import (
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

func openPostgres(dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// PostgreSQL takes concurrent writers; 20 connections cover a busy hub without exhausting max_connections.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	return &Store{read: db, write: db, dialect: Postgres}, nil
}
