package ocf

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"time"
)

// Logger writes log lines the way resource-agents' ocf_log does, without
// forking: "<tag>: <LEVEL>: <msg>" with tag "<agent>(<instance>)[<pid>]".
//
// Destinations, as in ocf-shellfuncs:
//   - syslog, when /dev/log exists and the facility (HA_LOGFACILITY or
//     PCMK_logfacility, default daemon) is not "none";
//   - the file HA_LOGFILE (or PCMK_logfile), appended;
//   - the file HA_DEBUGLOG (or PCMK_debuglog), which gets every line;
//   - stderr, when neither syslog nor a log file took the line.
//
// DEBUG lines are written only when HA_debug (or PCMK_debug) is on. A
// destination that fails is dropped silently: logging never fails an
// action. The zero Logger and a nil *Logger discard everything.
type Logger struct {
	tag      string
	debug    bool
	facility syslog.Priority
	useSys   bool
	sysDial  func(syslog.Priority, string) (io.WriteCloser, error)
	sys      io.WriteCloser
	sysDead  bool
	logFile  string
	debugLog string
	stderr   io.Writer
	now      func() time.Time
}

var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
	"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
	"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
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
	}
	fac := strings.ToLower(firstSet(env["HA_LOGFACILITY"], env["PCMK_logfacility"], "daemon"))
	if p, ok := facilities[fac]; ok && fac != "none" {
		if _, err := os.Stat(sysSock); err == nil {
			l.useSys = true
			l.facility = p
			l.sysDial = func(p syslog.Priority, tag string) (io.WriteCloser, error) {
				if sysSock == devLog {
					return syslog.Dial("", "", p, tag) // the local format
				}
				return syslog.Dial("unixgram", sysSock, p, tag)
			}
		}
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
		l.write(syslog.LOG_DEBUG, "DEBUG", format, args)
	}
}

// Infof logs at INFO level.
func (l *Logger) Infof(format string, args ...any) { l.write(syslog.LOG_INFO, "INFO", format, args) }

// Warnf logs at WARNING level.
func (l *Logger) Warnf(format string, args ...any) {
	l.write(syslog.LOG_WARNING, "WARNING", format, args)
}

// Errorf logs at ERROR level.
func (l *Logger) Errorf(format string, args ...any) { l.write(syslog.LOG_ERR, "ERROR", format, args) }

func (l *Logger) write(sev syslog.Priority, level, format string, args []any) {
	if l == nil || l.stderr == nil && l.logFile == "" && !l.useSys {
		return
	}
	msg := level + ": " + strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	taken := false
	if l.useSys && !l.sysDead {
		if l.sys == nil {
			w, err := l.sysDial(l.facility|sev, l.tag)
			if err != nil {
				l.sysDead = true
			} else {
				l.sys = w
			}
		}
		if l.sys != nil {
			if sw, ok := l.sys.(*syslog.Writer); ok {
				taken = sysWrite(sw, sev, msg) == nil
			} else if _, err := io.WriteString(l.sys, msg); err == nil {
				taken = true
			}
		}
	}
	pid := os.Getpid()
	line := fmt.Sprintf("%s  %s[%d]:    %s\n", l.now().Format("Jan 02 15:04:05"), l.tag, pid, msg)
	if l.logFile != "" && appendFile(l.logFile, line) == nil {
		taken = true
	}
	if l.debugLog != "" && l.debugLog != l.logFile {
		_ = appendFile(l.debugLog, line)
	}
	if !taken && l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s[%d]: %s\n", l.tag, pid, msg)
	}
}

func sysWrite(w *syslog.Writer, sev syslog.Priority, msg string) error {
	switch sev {
	case syslog.LOG_ERR:
		return w.Err(msg)
	case syslog.LOG_WARNING:
		return w.Warning(msg)
	case syslog.LOG_DEBUG:
		return w.Debug(msg)
	}
	return w.Info(msg)
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
	if l != nil && l.sys != nil {
		_ = l.sys.Close()
		l.sys = nil
	}
}
