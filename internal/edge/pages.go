package edge

import (
	"html/template"
	"net/http"
)

// page is the edge's own answer when no app does: plain, self-contained HTML.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} · StackHub</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .3em}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p><p><small>StackHub edge</small></p></body></html>
`))

func writePage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, map[string]string{"Title": title, "Text": text})
}

// notFoundPage answers a name no route serves: never some default app.
func notFoundPage(w http.ResponseWriter, host string) {
	writePage(w, http.StatusNotFound, "No app here", "Nothing is served at "+host+" on this StackHub server.")
}

// badGatewayPage answers when the app does not: it names the app and its status.
func badGatewayPage(w http.ResponseWriter, app, status string) {
	writePage(w, http.StatusBadGateway, "The app "+app+" does not answer", "The app "+app+" is "+status+".")
}

func forbiddenPage(w http.ResponseWriter, host, why string) {
	writePage(w, http.StatusForbidden, "Not allowed", host+": "+why+".")
}

func unauthorizedPage(w http.ResponseWriter, host string) {
	writePage(w, http.StatusUnauthorized, "Sign in", host+" needs a user name and password.")
}

var cont = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.URL}}">
<title>Opening {{.Host}} · StackHub</title></head>
<body><p>Signed in. <a id="continue" href="{{.URL}}">Continue to {{.Host}}</a>.</p></body></html>
`))

// continuePage sends the visitor on to url (with its one-time code) by itself, and offers the link.
func continuePage(w http.ResponseWriter, host, url string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the code must not leak to the app in a Referer
	_ = cont.Execute(w, map[string]string{"Host": host, "URL": url})
}
