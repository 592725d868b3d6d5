package web

import "net/http"

func (u *UI) registerStore(mux *http.ServeMux) {}
