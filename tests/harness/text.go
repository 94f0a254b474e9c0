package harness

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Tail returns the last n lines of a file, labelled with its path, or ""
// when it is missing or empty: for failure messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- %s (tail)\n%s\n", path, strings.Join(lines, "\n"))
}

// ShellQuote quotes words for sh, each in single quotes.
func ShellQuote(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
