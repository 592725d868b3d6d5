package web

import "net/http"

func (u *UI) registerAdmin(mux *http.ServeMux) {}
