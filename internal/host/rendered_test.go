package host

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPlace(t *testing.T) {
	rendered, edited, next := []byte("v1 config"), []byte("v1 config, edited"), []byte("v2 config")
	for _, tt := range []struct {
		name     string
		owned    bool
		exists   bool
		cur      []byte
		recorded string
		want     placement
	}{
		{"unchanged since rendered", false, true, rendered, hashOf(rendered), placeWrite},
		{"edited", false, true, edited, hashOf(rendered), placeKeep},
		{"edited into the new rendering", false, true, next, hashOf(rendered), placeWrite},
		{"emptied", false, true, []byte{}, hashOf(rendered), placeKeep},
		{"removed", false, false, nil, hashOf(rendered), placeRestore},
		{"new in this version", false, false, nil, "", placeWrite},
		{"there but never rendered", false, true, edited, "", placeKeep},
		{"there, never rendered, same as new", false, true, next, "", placeWrite},
		{"owned, unchanged", true, true, rendered, hashOf(rendered), placeWrite},
		{"owned, edited", true, true, edited, hashOf(rendered), placeReplace},
		{"owned, edited, nothing recorded", true, true, edited, "", placeWrite},
		{"owned, removed", true, false, nil, hashOf(rendered), placeWrite},
	} {
		if got := place(tt.owned, tt.exists, tt.cur, tt.recorded, next); got != tt.want {
			t.Errorf("%s: place = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDropStaleNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	write := func(p, text string) {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	if err := dropStaleNew(path, hashOf([]byte("x"))); err != nil { // no .new: nothing to do
		t.Fatal(err)
	}
	write(path+newSuffix, "v2 config")
	if err := dropStaleNew(path, hashOf([]byte("v2 config, edited"))); err != nil || !exists(path+newSuffix) {
		t.Errorf("a .new that is not what StackHub wrote: err %v, still there %v; want it kept", err, exists(path+newSuffix))
	}
	if err := dropStaleNew(path, ""); err != nil || !exists(path+newSuffix) {
		t.Errorf("nothing recorded: err %v, still there %v; want it kept", err, exists(path+newSuffix))
	}
	if err := dropStaleNew(path, hashOf([]byte("v2 config"))); err != nil || exists(path+newSuffix) {
		t.Errorf("StackHub's own .new: err %v, still there %v; want it removed", err, exists(path+newSuffix))
	}
}

func TestDecodeRendering(t *testing.T) {
	r, err := decodeRendering("")
	if err != nil || r == nil || len(r) != 0 {
		t.Errorf(`decode "" = %v, %v; want an empty, non-nil record`, r, err)
	}
	want := rendering{"a.conf": hashOf([]byte("a"))}
	r, err = decodeRendering(want.encode())
	if err != nil || len(r) != 1 || r["a.conf"] != want["a.conf"] {
		t.Errorf("round trip = %v, %v", r, err)
	}
	if _, err := decodeRendering("{broken"); err == nil {
		t.Error("a broken record decoded without error")
	}
}
