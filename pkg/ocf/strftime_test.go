package ocf

import (
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStrftime(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 5, 3, 4000, time.FixedZone("CET", 3600))
	for _, tt := range []struct{ format, want string }{
		{DefaultDateFormat, "Dec 07 09:05:03 "},
		{"%a %A %b %B %h", "Mon Monday Dec December Dec"},
		{"%C %y %Y %m %d %e %j", "20 26 2026 12 07  7 341"},
		{"%H %I %k %l %M %S %p %N", "09 09  9  9 05 03 AM 000004000"},
		{"%D %F %R %T", "12/07/26 2026-12-07 09:05 09:05:03"},
		{"%u %w %z %Z %s", "1 1 +0100 CET 1796630703"},
		{"%c", "Mon Dec  7 09:05:03 2026"},
		{"100%% %t%n", "100% \t\n"},
		{"%Q stays, and so does a trailing %", "%Q stays, and so does a trailing %"},
		{"", ""},
	} {
		if got := Strftime(tt.format, at); got != tt.want {
			t.Errorf("Strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
	noon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, "12 12 PM", Strftime("%I %l %p", noon))
	assert.Equal(t, "12 12 AM 7", Strftime("%I %l %p %u", noon.Add(-12*time.Hour).AddDate(0, 0, 3)))
}

// TestStrftimeDate compares Strftime with date(1) at fixed instants
// (TZ=UTC, LC_ALL=C), on the day fields where a format can go wrong:
// one- and two-digit days, months and hours, the first and last day of
// a year, a leap day.
func TestStrftimeDate(t *testing.T) {
	date, err := exec.LookPath("date")
	if err != nil {
		t.Skip("no date(1)")
	}
	const format = "%a %A %b %B %C %d %D %e %F %H %I %j %k %l %m %M %p %R %s %S %T %u %w %y %Y %z %Z %c|%%|"
	for _, at := range []time.Time{
		time.Date(2026, 12, 7, 13, 27, 18, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2028, 2, 29, 12, 30, 1, 0, time.UTC),
		time.Date(2027, 7, 17, 1, 2, 3, 0, time.UTC),
	} {
		cmd := exec.Command(date, "-d", "@"+strconv.FormatInt(at.Unix(), 10), "+"+format)
		cmd.Env = []string{"TZ=UTC", "LC_ALL=C"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("date: %v", err)
		}
		want := string(out[:len(out)-1])
		if got := Strftime(format, at); got != want {
			t.Errorf("Strftime(%s) = %q, want %q (date)", at, got, want)
		}
	}
}
