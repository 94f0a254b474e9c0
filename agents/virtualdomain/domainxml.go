//go:build cgo

package virtualdomain

import (
	"context"
	"maps"
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// PoolsAndNetworks lists the storage pools and virtual networks a domain
// XML refers to, each once, sorted.
func PoolsAndNetworks(doc []byte) (pools, nets []string, err error) {
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(string(doc)); err != nil {
		return nil, nil, err
	}
	p, n := map[string]bool{}, map[string]bool{}
	if dom.Devices != nil {
		for _, disk := range dom.Devices.Disks {
			if disk.Source != nil && disk.Source.Volume != nil && disk.Source.Volume.Pool != "" {
				p[disk.Source.Volume.Pool] = true
			}
		}
		for _, nic := range dom.Devices.Interfaces {
			if nic.Source != nil && nic.Source.Network != nil && nic.Source.Network.Network != "" {
				n[nic.Source.Network.Network] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(p)), slices.Sorted(maps.Keys(n)), nil
}

// startResources starts (or refreshes) the pools and networks the domain
// needs, as start_resources asks.
func startResources(ctx context.Context, hv Hypervisor, doc []byte) error {
	pools, nets, err := PoolsAndNetworks(doc)
	if err != nil {
		return ocf.Generic("cannot read the pools and networks of the domain XML: %v", err)
	}
	for _, p := range pools {
		if err := hv.StartPool(ctx, p); err != nil {
			return ocf.Generic("failed to start required storage pool %s: %v", p, err)
		}
	}
	for _, n := range nets {
		if err := hv.StartNetwork(ctx, n); err != nil {
			return ocf.Generic("failed to start required virtual network %s: %v", n, err)
		}
	}
	return nil
}
