package server

import "net/http"

// Flush passes a streaming handler's flush through the request log's writer. Without it, handlers that assert
// http.Flusher (the job events and followed logs of /api/v1) buffer until the response ends.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
