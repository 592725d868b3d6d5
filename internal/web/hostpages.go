package web

import "net/http"

func (u *UI) registerHost(mux *http.ServeMux) {}
