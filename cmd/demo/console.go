package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// console is the demo's output. Ordinary text goes through Write as it
// comes; progress lines go through Progress. In place (on a terminal) each
// progress line replaces the one before it: carriage return, clear to the
// end of the line, the text, and no newline until ordinary text follows.
// Otherwise (a file, a pipe, a test's buffer) a progress line is an
// ordinary line, so logs keep every one.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	inPlace bool
	// width caps an in-place line (0: no cap): a line longer than the
	// terminal wraps, and a carriage return then rewrites only its last
	// row.
	width int
	// open: a progress line is on screen without its newline.
	open bool
}

// newConsole writes to w, in place when w is a terminal and the
// environment does not say it cannot move the cursor (TERM=dumb).
func newConsole(w io.Writer, getenv func(string) string) *console {
	c := &console{w: w}
	if f, ok := w.(*os.File); ok && isTerminal(f) && getenv("TERM") != "dumb" {
		c.inPlace = true
		c.width = 80
		if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
			c.width = n
		}
	}
	return c
}

// isTerminal reports whether f is a character device (a terminal; the
// demo needs no more than that, and no dependency for it).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Write writes ordinary text, ending an open progress line first.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.endLocked(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Progress shows line (without its newline) as the current progress.
func (c *console) Progress(line string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	line = strings.TrimRight(line, "\r\n")
	if !c.inPlace {
		_, err := io.WriteString(c.w, line+"\n")
		return err
	}
	// Column alignment means nothing on a line that replaces itself:
	// squeeze the runs of spaces, then cut to the terminal's width (one
	// column short, so the cursor never wraps).
	line = squeeze(line)
	if c.width > 1 && len(line) > c.width-1 {
		line = line[:c.width-1]
	}
	c.open = true
	_, err := io.WriteString(c.w, "\r\033[K"+line)
	return err
}

// End ends an open progress line, leaving it on screen.
func (c *console) End() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endLocked()
}

func (c *console) endLocked() error {
	if !c.open {
		return nil
	}
	c.open = false
	_, err := io.WriteString(c.w, "\n")
	return err
}

var spaces = regexp.MustCompile(`  +`)

// squeeze keeps a line's leading indentation and turns every other run of
// spaces into one.
func squeeze(s string) string {
	body := strings.TrimLeft(s, " ")
	return s[:len(s)-len(body)] + spaces.ReplaceAllString(body, " ")
}

// progressWriter is a tool's output: every complete line matching progress
// goes to the console as a progress line, every other one as an ordinary
// line; each is prefixed with indent. A partial line waits for its end (or
// Flush).
type progressWriter struct {
	mu       sync.Mutex
	c        *console
	indent   string
	progress *regexp.Regexp
	buf      []byte
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if err := w.emit(line); err != nil {
			return 0, err
		}
	}
}

// Flush writes a last line that had no newline, and ends an open progress
// line.
func (w *progressWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		line := string(w.buf)
		w.buf = nil
		if err := w.emit(line); err != nil {
			return err
		}
	}
	return w.c.End()
}

func (w *progressWriter) emit(line string) error {
	line = strings.TrimRight(line, "\r")
	if w.progress != nil && w.progress.MatchString(line) {
		return w.c.Progress(w.indent + line)
	}
	_, err := io.WriteString(w.c, w.indent+line+"\n")
	return err
}
