// Package agents holds the one list of the agents this binary can be, and
// the "paceline" command for people that lists, describes and runs them.
package agents

import (
	"sort"
	"strings"

	"github.com/paceline-ha/paceline/agents/drbd"
	"github.com/paceline-ha/paceline/agents/exportfs"
	"github.com/paceline-ha/paceline/agents/fenceipmilan"
	"github.com/paceline-ha/paceline/agents/filesystem"
	"github.com/paceline-ha/paceline/agents/ipaddr2"
	"github.com/paceline-ha/paceline/agents/nfsserver"
	"github.com/paceline-ha/paceline/agents/virtualdomain"
	"github.com/paceline-ha/paceline/metadata"
	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Kind tells which contract an agent follows.
type Kind int

// Agent kinds.
const (
	OCF   Kind = iota // an OCF resource agent under /usr/lib/ocf/resource.d/paceline
	Fence             // a fence agent in /usr/sbin
)

// Provider is the OCF provider name of every resource agent here.
const Provider = "paceline"

// Entry is one name the binary answers to.
type Entry struct {
	Name     string
	Kind     Kind
	Replaces string              // the upstream agent it is a drop-in for
	OCF      func() *ocf.Agent   // for Kind OCF
	Fence    func() *fence.Agent // for Kind Fence (the same for every alias)
	// Delegated names the program that runs this agent's actions when
	// this build lacks what they need: the cgo build paceline-libvirt for
	// libvirt, paceline-fence for IPMI (see main.go). Actions RunsHere
	// accepts (given the action and a parameter reader) run here anyway.
	Delegated string
	RunsHere  func(action string, param func(string) string) bool
	// Examples are the worked pcs and crm configurations of an OCF
	// agent's man page.
	Examples func() []ocf.Example
}

// All returns every agent, sorted by name.
func All() []Entry {
	list := []Entry{
		{Name: "IPaddr2", Kind: OCF, Replaces: "ocf:heartbeat:IPaddr2", OCF: ipaddr2.Agent, Examples: ipaddr2.Examples},
		{Name: "drbd", Kind: OCF, Replaces: "ocf:linbit:drbd", OCF: drbd.Agent, Examples: drbd.Examples},
		{Name: "exportfs", Kind: OCF, Replaces: "ocf:heartbeat:exportfs", OCF: exportfs.Agent, Examples: exportfs.Examples},
		{Name: "nfsserver", Kind: OCF, Replaces: "ocf:heartbeat:nfsserver", OCF: nfsserver.Agent, Examples: nfsserver.Examples},
		{Name: "Filesystem", Kind: OCF, Replaces: "ocf:heartbeat:Filesystem", OCF: filesystem.Agent, Examples: filesystem.Examples},
		{Name: "VirtualDomain", Kind: OCF, Replaces: "ocf:heartbeat:VirtualDomain", OCF: virtualdomain.Agent, Examples: virtualdomain.Examples,
			Delegated: virtualdomain.DelegateTo,
			RunsHere: func(action string, param func(string) string) bool {
				return virtualdomain.WithoutLibvirt(action, param("hypervisor"))
			}},
	}
	for _, n := range fenceipmilan.Names() {
		list = append(list, Entry{Name: n, Kind: Fence, Replaces: strings.Replace(n, "_paceline", "", 1),
			Fence: fenceipmilan.Agent, Delegated: fenceipmilan.DelegateTo})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Lookup finds an agent by the name the binary was called by.
func Lookup(name string) (Entry, bool) {
	for _, e := range All() {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Agent returns the OCF agent with the metadata it serves.
func (e Entry) Agent() *ocf.Agent {
	a := e.OCF()
	a.MetadataXML = metadata.For(e.Name)
	return a
}

// FenceAgent returns the fence agent as called by this entry's name, with
// the metadata it serves and the version.
func (e Entry) FenceAgent() *fence.Agent {
	a := e.Fence().As(e.Name)
	a.Metadata = metadata.For
	a.Version = Version
	return a
}

// Metadata returns the committed metadata document of an agent.
func (e Entry) Metadata() []byte { return metadata.For(e.Name) }
