// Package ocf implements the Open Cluster Framework resource-agent contract
// as Pacemaker's executor (pacemaker-execd) applies it.
//
// An agent is described by an Agent value: its metadata (parameters,
// actions, descriptions) and one Handler per action. Main turns a process
// invocation into a call of the right handler:
//
//   - the environment is read once into a Request: the instance parameters
//     (OCF_RESKEY_*), the meta attributes Pacemaker passes
//     (OCF_RESKEY_CRM_meta_*), the check level, probe detection, notify data
//     and the time budget;
//   - meta-data, usage and methods are answered before anything is
//     validated and without touching the system;
//   - the handler observes, decides and acts, and returns nil or an error
//     built with this package's constructors (Generic, NotConfigured,
//     NotInstalled, ...). The exit code is derived from the error in one
//     place (CodeOf), and the error text becomes the "ocf-exit-reason:" line
//     that Pacemaker shows next to a failed action.
//
// Only this package reads the process environment and calls os.Exit; agents
// get everything through the Request.
//
// Logging follows the resource-agents format ("IPaddr2(vip)[123]: INFO: ...")
// to syslog when /dev/log exists, to HA_LOGFILE and HA_DEBUGLOG when set,
// and never fails an action.
//
// Every action gets a context whose deadline is the operation timeout
// (OCF_RESKEY_CRM_meta_timeout, or the metadata default) less a safety
// margin, because Pacemaker SIGKILLs the whole process group when the
// timeout expires and does not send SIGTERM first.
package ocf
