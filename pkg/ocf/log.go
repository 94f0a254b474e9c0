package ocf

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Priority is a syslog facility or severity (RFC 5424 numbering).
type Priority int

// Severities.
const (
	sevErr     Priority = 3
	sevWarning Priority = 4
	sevInfo    Priority = 6
	sevDebug   Priority = 7
)

// Logger writes log lines the way resource-agents' ocf_log does, without
// forking: "<tag>: <LEVEL>: <msg>" with tag "<agent>(<instance>)[<pid>]".
//
// Destinations, as in ocf-shellfuncs:
//   - syslog, when /dev/log exists and the facility (HA_LOGFACILITY or
//     PCMK_logfacility, default daemon) is not "none";
//   - the file HA_LOGFILE (or PCMK_logfile), appended, each line
//     "<date> <tag>[<pid>]:    <LEVEL>: <msg>" with the date formatted
//     by HA_DATEFMT (date(1) conversions, default "%b %d %T ");
//   - the file HA_DEBUGLOG (or PCMK_debuglog), which gets every line,
//     as "<tag>[<pid>]:\t<date><LEVEL>: <msg>" the way ha_debug writes;
//   - stderr, when neither syslog nor a log file took the line.
//
// DEBUG lines are written only when HA_debug (or PCMK_debug) is on. A
// destination that fails is dropped silently: logging never fails an
// action. The zero Logger and a nil *Logger discard everything.
type Logger struct {
	tag      string
	debug    bool
	facility Priority
	useSys   bool
	sysSock  string
	sys      int // datagram socket connected to sysSock; 0 until used
	sysDead  bool
	logFile  string
	debugLog string
	dateFmt  string // HA_DATEFMT: the date of the log file lines
	stderr   io.Writer
	now      func() time.Time
}

// facilities maps syslog facility names to their codes.
var facilities = map[string]Priority{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// LogTag returns the resource-agents tag "<agent>(<instance>)".
func LogTag(agent, instance string) string {
	if instance == "" {
		return agent
	}
	return agent + "(" + instance + ")"
}

// devLog is where syslog listens on Linux.
const devLog = "/dev/log"

// NewLogger configures a Logger from the environment (NAME=value
// entries) for tag, as agents other than OCF ones (fence agents) need it.
// With a nil stderr, lines no other destination took are dropped.
func NewLogger(env []string, tag string, stderr io.Writer) *Logger {
	return newLogger(envMap(env), tag, stderr)
}

// newLogger configures a Logger from the environment, with syslog at
// sysSock when that socket exists.
func newLogger(env map[string]string, tag string, stderr io.Writer) *Logger {
	return newLoggerAt(env, tag, stderr, devLog)
}

func newLoggerAt(env map[string]string, tag string, stderr io.Writer, sysSock string) *Logger {
	l := &Logger{
		tag:      tag,
		stderr:   stderr,
		now:      time.Now,
		logFile:  firstSet(env["HA_LOGFILE"], env["PCMK_logfile"]),
		debugLog: firstSet(env["HA_DEBUGLOG"], env["PCMK_debuglog"]),
		debug:    debugOn(firstSet(env["HA_debug"], env["PCMK_debug"])),
		dateFmt:  firstSet(env["HA_DATEFMT"], DefaultDateFormat),
	}
	fac := strings.ToLower(firstSet(env["HA_LOGFACILITY"], env["PCMK_logfacility"], "daemon"))
	if p, ok := facilities[fac]; ok {
		// Whether the socket exists is found out at the first line.
		l.useSys = true
		l.facility = p
		l.sysSock = sysSock
	}
	if l.debugLog == "/dev/null" {
		l.debugLog = ""
	}
	return l
}

func debugOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "no", "false", "off":
		return false
	}
	return true
}

// DebugEnabled reports whether DEBUG lines are written.
func (l *Logger) DebugEnabled() bool { return l != nil && l.debug }

// Debugf logs at DEBUG level (only with HA_debug on).
func (l *Logger) Debugf(format string, args ...any) {
	if l.DebugEnabled() {
		l.write(sevDebug, "DEBUG", format, args)
	}
}

// Infof logs at INFO level.
func (l *Logger) Infof(format string, args ...any) { l.write(sevInfo, "INFO", format, args) }

// Warnf logs at WARNING level.
func (l *Logger) Warnf(format string, args ...any) {
	l.write(sevWarning, "WARNING", format, args)
}

// Errorf logs at ERROR level.
func (l *Logger) Errorf(format string, args ...any) { l.write(sevErr, "ERROR", format, args) }

func (l *Logger) write(sev Priority, level, format string, args []any) {
	if l == nil || l.stderr == nil && l.logFile == "" && !l.useSys {
		return
	}
	msg := level + ": " + strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	taken := false
	pid := os.Getpid()
	now := l.now()
	if l.useSys && !l.sysDead {
		// The traditional local format: <PRI>Mmm dd hh:mm:ss tag[pid]: msg
		// (RFC 3164: the day padded with a space).
		line := fmt.Sprintf("<%d>%s %s[%d]: %s", int(l.facility)*8+int(sev), now.Format(time.Stamp), l.tag, pid, msg)
		taken = l.sysWrite([]byte(line)) == nil
	}
	date := ""
	if l.logFile != "" || l.debugLog != "" {
		date = Strftime(l.dateFmt, now)
	}
	if l.logFile != "" && appendFile(l.logFile, fmt.Sprintf("%s %s[%d]:    %s\n", date, l.tag, pid, msg)) == nil {
		taken = true
	}
	if l.debugLog != "" && l.debugLog != l.logFile {
		_ = appendFile(l.debugLog, fmt.Sprintf("%s[%d]:\t%s%s\n", l.tag, pid, date, msg))
	}
	if !taken && l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s[%d]: %s\n", l.tag, pid, msg)
	}
}

// sysWrite sends one datagram to the syslog socket, connecting on first
// use. It never blocks: a full or absent syslog drops the line (and the
// caller writes it elsewhere).
func (l *Logger) sysWrite(b []byte) error {
	if l.sys == 0 {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			l.sysDead = true
			return err
		}
		if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: l.sysSock}); err != nil {
			syscall.Close(fd)
			l.sysDead = true
			return err
		}
		l.sys = fd
	}
	_, err := syscall.Write(l.sys, b)
	return err
}

func appendFile(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close releases the syslog connection, if one was opened.
func (l *Logger) Close() {
	if l != nil && l.sys > 0 {
		_ = syscall.Close(l.sys)
		l.sys = 0
	}
}
