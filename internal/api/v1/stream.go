package v1

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// writeProblem writes a v1 error outside huma (the streaming endpoints).
func writeProblem(w http.ResponseWriter, err error) {
	p := fail(err).(*Problem)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(p)
}

// jobEvents streams a job's log as Server-Sent Events: one "stage" event per line (id = its sequence number, so
// a client resumes with Last-Event-ID), then one "result" event with the finished job.
func (a *API) jobEvents(w http.ResponseWriter, r *http.Request) {
	actor, err := a.auth.Authenticate(r.Context(), reqauth.Credentials(r))
	if err != nil {
		writeProblem(w, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeProblem(w, apperr.Field(apperr.Invalid, "id", "the job id must be a number"))
		return
	}
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err := a.host.CheckJob(r.Context(), actor, id); err != nil {
		writeProblem(w, err)
		return
	}
	rc := http.NewResponseController(w) // reaches the connection's Flush through middleware wrappers
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, id int64, v any) error {
		b, _ := json.Marshal(v)
		if id > 0 {
			fmt.Fprintf(w, "id: %d\n", id)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		_ = rc.Flush() // a writer that cannot flush delivers at the end
		return nil
	}
	job, err := a.host.Follow(r.Context(), actor, id, after, func(e store.JobEvent) error {
		return send("stage", e.Seq, e)
	})
	if err == nil {
		_ = send("result", 0, job)
	}
}

// logs streams an instance's container logs as text; follow keeps the stream open.
func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	actor, err := a.auth.Authenticate(r.Context(), reqauth.Credentials(r))
	if err != nil {
		writeProblem(w, err)
		return
	}
	q := r.URL.Query()
	tail, _ := strconv.Atoi(q.Get("tail"))
	follow := q.Get("follow") == "true" || q.Get("follow") == "1"
	name := r.PathValue("name")
	if err := a.host.CheckInstance(r.Context(), actor, name); err != nil {
		writeProblem(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	if err := a.host.Logs(r.Context(), actor, name, tail, follow, fw); err != nil {
		fmt.Fprintf(w, "\n[stackhub] %s\n", apperr.As(err).Message)
	}
}

// flushWriter flushes after every write, so followed logs arrive as they are written.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f *flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	_ = f.rc.Flush()
	return n, err
}
