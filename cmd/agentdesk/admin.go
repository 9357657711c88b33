package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// The admin app (admin/, React Admin built by Vite) is served at /admin
// from a directory, ADMIN_DIR (default ./admin/dist, which `make run`
// builds), rather than embedded in the binary: the Go build then needs no
// Node.js, go test runs without a built app, and an operator can serve a
// rebuilt or customised app without rebuilding the server.

// adminPath is where the admin app is served.
const adminPath = "/admin/"

// adminCSP keeps the admin app to its own origin: scripts and API calls
// from here only, inline styles allowed (Material UI writes its styles at
// run time), no framing.
const adminCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

// adminHandler serves the built app in dir under /admin/: a file when
// there is one, index.html for every other path (the app's own routes).
// Files under assets/ carry a hash in their names and are cached for
// good; index.html is always asked for again.
func adminHandler(dir string) http.Handler {
	root := os.DirFS(dir)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", adminCSP)
		h.Set("Referrer-Policy", "no-referrer")
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, adminPath)), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				http.ServeFileFS(w, r, root, name)
				return
			}
			if path.Ext(name) != "" {
				// A missing file is not the app's route: a 404, not the
				// page (a script tag that got HTML would fail obscurely).
				http.NotFound(w, r)
				return
			}
		}
		index, err := fs.ReadFile(root, "index.html")
		if errors.Is(err, fs.ErrNotExist) {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("The admin app is not built in " + dir + ": run `make admin` (needs Node.js and npm), or point ADMIN_DIR at a built app.\n"))
			return
		}
		if err != nil {
			http.Error(w, "the admin app cannot be read", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}
