package web

import "net/http"

func (u *UI) registerApp(mux *http.ServeMux) {}
