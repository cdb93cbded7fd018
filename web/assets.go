package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The bundles built by `make assets` (esbuild and the Tailwind CLI write
// web/assets/dist) and the files kept as they are (icons). dist is a build
// output, not committed; its .gitkeep keeps the embed pattern valid.
//
//go:embed all:assets/dist assets/static
var assetFiles embed.FS

// asset is one file served under a content-hashed name.
type asset struct {
	hashedName  string
	contentType string
	body        []byte
	gzipped     []byte // nil when compression does not pay
	etag        string
}

// Assets maps logical names ("app.css") to content-hashed URLs
// ("/assets/app.1a2b3c4d5e6f.css") served with immutable cache headers.
type Assets struct {
	byName   map[string]*asset
	byHashed map[string]*asset
}

// requiredAssets must exist, or the server refuses to start.
var requiredAssets = []string{"app.js", "app.css"}

func loadAssets() (*Assets, error) {
	a := &Assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	for _, dir := range []string{"assets/dist", "assets/static"} {
		err := fs.WalkDir(assetFiles, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			body, err := assetFiles.ReadFile(p)
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(p, dir+"/")
			sum := sha256.Sum256(body)
			hash := hex.EncodeToString(sum[:6])
			ext := path.Ext(name)
			hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
			if strings.HasPrefix(name, "chunks/") {
				// esbuild names chunks by their content already, and the
				// bundle imports them by that name.
				hashed = name
			}
			x := &asset{
				hashedName:  hashed,
				contentType: mime.TypeByExtension(ext),
				body:        body,
				etag:        `"` + hash + `"`,
			}
			if ext == ".webmanifest" {
				x.contentType = "application/manifest+json"
			}
			if x.contentType == "" {
				x.contentType = "application/octet-stream"
			}
			if ext == ".js" || ext == ".css" || ext == ".svg" || ext == ".webmanifest" {
				x.gzipped = gzipBytes(body)
			}
			a.byName[name] = x
			a.byHashed[x.hashedName] = x
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("web: load assets: %w", err)
		}
	}
	for _, name := range requiredAssets {
		if _, ok := a.byName[name]; !ok {
			return nil, errors.New("web: front-end assets are not built (web/assets/dist/" + name + " is missing): run `make assets`")
		}
	}
	return a, nil
}

// Path returns the URL of the named asset; templates call it as {{asset "app.css"}}.
func (a *Assets) Path(name string) (string, error) {
	x, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("web: no asset named %q", name)
	}
	return "/assets/" + x.hashedName, nil
}

// Body returns the named asset's bytes (for the service worker and manifest).
func (a *Assets) Body(name string) []byte {
	if x, ok := a.byName[name]; ok {
		return x.body
	}
	return nil
}

// serveAsset serves /assets/<hashed name>: cached for a year, immutable,
// gzipped when the client accepts it.
func (a *Assets) serveAsset(w http.ResponseWriter, r *http.Request) {
	x, ok := a.byHashed[strings.TrimPrefix(r.URL.Path, "/assets/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", x.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", x.etag)
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == x.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := x.body
	if x.gzipped != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = x.gzipped
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}
