package virtualdomain

import (
	"errors"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

const (
	uuid1 = "11111111-2222-4333-8444-555555555555"
	uuid2 = "99999999-2222-4333-8444-555555555555"
)

func domainXML(uuid string) string {
	if uuid == "" {
		return "<domain type='qemu'>\n  <name>vm1</name>\n</domain>\n"
	}
	return "<domain type='qemu'>\n  <name>vm1</name>\n  <uuid>" + uuid + "</uuid>\n</domain>\n"
}

// TestStart runs start on the fake libvirt: what it asks of libvirt, in
// which order, and the exit code and reason the administrator sees.
func TestStart(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		existing State // the domain libvirt has (Undefined: none)
		setup    func(*fakeHV)
		code     ocf.Status
		reason   string
		calls    []string
		wantUUID string // of the domain libvirt has afterwards
		log      string
	}{
		{name: "not defined yet", config: domainXML(uuid1), existing: Undefined,
			calls: []string{"define vm1", "start vm1"}, wantUUID: uuid1, log: "INFO: domain vm1 started"},
		{name: "defined and shut off, same uuid", config: domainXML(uuid1), existing: ShutOff,
			calls: []string{"define vm1", "start vm1"}, wantUUID: uuid1, log: "INFO: domain vm1 started"},
		// libvirt would make up a uuid for this config and refuse it
		// (the fake does too): the domain keeps the one it has.
		{name: "config without a uuid", config: domainXML(""), existing: ShutOff,
			calls: []string{"define vm1", "start vm1"}, wantUUID: uuid1, log: "has no uuid: domain vm1 keeps libvirt's " + uuid1},
		{name: "another uuid: the old definition goes first", config: domainXML(uuid2), existing: ShutOff,
			calls: []string{"undefine vm1", "define vm1", "start vm1"}, wantUUID: uuid2,
			log: "WARNING: domain vm1 is defined with uuid " + uuid1},
		{name: "another uuid, undefine refused", config: domainXML(uuid2), existing: ShutOff,
			setup: func(hv *fakeHV) {
				hv.domains["vm1"].undefineErr = errors.New("Requested operation is not valid: cannot undefine domain with 1 snapshots")
			},
			code:   ocf.ErrGeneric,
			reason: "its definition cannot be removed: Requested operation is not valid: cannot undefine domain with 1 snapshots",
			calls:  []string{"undefine vm1"}, wantUUID: uuid1},
		{name: "already running", config: domainXML(uuid1), existing: Running,
			wantUUID: uuid1, log: "INFO: domain vm1 is already running"},
		{name: "paused counts as running", config: domainXML(uuid1), existing: Paused,
			wantUUID: uuid1, log: "INFO: domain vm1 is already running"},
		{name: "crashed", config: domainXML(uuid1), existing: Crashed,
			code: ocf.ErrGeneric, reason: "domain vm1 is crashed; it must be stopped before it can start", wantUUID: uuid1},
		{name: "pmsuspended", config: domainXML(uuid1), existing: PMSuspended,
			code: ocf.ErrGeneric, reason: "domain vm1 is pmsuspended; it must be stopped before it can start", wantUUID: uuid1},
		{name: "define fails", config: domainXML(uuid1), existing: Undefined,
			setup:  func(hv *fakeHV) { hv.defineErr = errors.New("XML error: bad disk") },
			code:   ocf.ErrGeneric,
			reason: "failed to define domain vm1 from ", calls: []string{"define vm1"}},
		{name: "start fails", config: domainXML(uuid1), existing: ShutOff,
			setup: func(hv *fakeHV) {
				hv.domains["vm1"].startErr = errors.New("internal error: qemu unexpectedly closed the monitor")
			},
			code:   ocf.ErrGeneric,
			reason: "failed to start domain vm1: internal error: qemu unexpectedly closed the monitor",
			calls:  []string{"define vm1", "start vm1"}, wantUUID: uuid1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hv := newFakeHV()
			if tt.existing != Undefined {
				hv.add("vm1", uuid1, tt.existing)
			}
			if tt.setup != nil {
				tt.setup(hv)
			}
			log, err := runOn(t, hv, actionCase{action: "start", config: tt.config}, start)
			checkResult(t, err, tt.code, tt.reason)
			checkCalls(t, hv, tt.calls...)
			checkLog(t, log, tt.log)
			d := hv.domains["vm1"]
			switch {
			case tt.wantUUID == "" && d != nil:
				t.Errorf("libvirt has domain vm1 (uuid %s), want none", d.uuid)
			case tt.wantUUID != "" && (d == nil || !SameUUID(d.uuid, tt.wantUUID)):
				t.Errorf("libvirt has domain vm1 %+v, want uuid %s", d, tt.wantUUID)
			case tt.code == ocf.Success && d.state != Running && d.state != Paused:
				t.Errorf("after start the domain is %s", d.state)
			}
		})
	}
}
