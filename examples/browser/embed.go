// Package browser is a page that evaluates amortize model files in the
// browser with onnxruntime-web: `amortize serve --ui` serves it beside the
// model directory, and any static file server can, with onnxruntime-web's
// files in ort/ beside it.
package browser

import "embed"

// Page is the page: index.html, its scripts and its style.
//
//go:embed index.html app.mjs amortize.mjs style.css
var Page embed.FS
