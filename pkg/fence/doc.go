// Package fence implements the fence-agent contract of fence-agents'
// fencing.py, as pacemaker-fenced and administrators use it:
//
//   - options come from the command line (short and long options, when
//     there are arguments) or, without arguments, from stdin as key=value
//     lines, where "-" and "_" in names are interchangeable, deprecated
//     aliases (ipaddr, login, passwd, port...) are accepted, unknown keys
//     draw a warning and are ignored, and nodename is ignored silently;
//   - booleans are 1/yes/on/true and 0/no/off/false; select options are
//     matched without regard to case;
//   - a parameter marked secret (a password) never appears in a message.
//
// Only this package (and pkg/ocf) reads the process environment and calls
// os.Exit.
package fence
