package ocf

import (
	"strconv"
	"strings"
	"time"
)

// DefaultDateFormat is the date resource-agents puts before its log
// file lines when HA_DATEFMT is unset or empty (ocf-directories): month
// name, two-digit day, time and a space, as "Dec 07 13:27:18 ".
const DefaultDateFormat = "%b %d %T "

// Strftime formats t the way date(1) formats "+format" in the C
// locale, for the conversions a date format for log lines uses. A
// conversion it does not know is copied as it stands, as GNU date does
// with one it does not know; GNU's flags and widths (%-d, %_H) are not
// taken.
func Strftime(format string, t time.Time) string {
	var b strings.Builder
	two := func(n int) { b.WriteString(pad(n, 2, '0')) }
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case '%':
			b.WriteByte('%')
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'C':
			two(t.Year() / 100)
		case 'd':
			two(t.Day())
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'e':
			b.WriteString(pad(t.Day(), 2, ' '))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'H':
			two(t.Hour())
		case 'I':
			two((t.Hour()+11)%12 + 1)
		case 'j':
			b.WriteString(pad(t.YearDay(), 3, '0'))
		case 'k':
			b.WriteString(pad(t.Hour(), 2, ' '))
		case 'l':
			b.WriteString(pad((t.Hour()+11)%12+1, 2, ' '))
		case 'm':
			two(int(t.Month()))
		case 'M':
			two(t.Minute())
		case 'n':
			b.WriteByte('\n')
		case 'N':
			b.WriteString(pad(t.Nanosecond(), 9, '0'))
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'S':
			two(t.Second())
		case 't':
			b.WriteByte('\t')
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'u':
			b.WriteString(strconv.Itoa((int(t.Weekday())+6)%7 + 1))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'y':
			two(t.Year() % 100)
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// pad writes n in at least width digits, filled on the left with fill.
func pad(n, width int, fill byte) string {
	s := strconv.Itoa(n)
	if len(s) >= width {
		return s
	}
	return strings.Repeat(string(fill), width-len(s)) + s
}
