package main

import (
	"io"

	"github.com/amortize/amortize/cmd/internal/cli"
)

// bar is the CLI's progress bar under the names this command's code uses.
type bar struct{ *cli.Bar }

func newBar(w io.Writer, label string) *bar { return &bar{cli.NewBar(w, label)} }

func (b *bar) update(done, total int, extra string) { b.Update(done, total, extra) }
func (b *bar) line(s string)                        { b.Line(s) }
func (b *bar) done()                                { b.Done() }
