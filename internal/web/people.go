package web

import "net/http"

func (u *UI) registerPeople(mux *http.ServeMux) {}
