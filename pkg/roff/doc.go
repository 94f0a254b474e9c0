// Package roff writes the little of the man(7) macro language that the
// agents' manual pages need: escaped text, paragraphs from the plain
// descriptions the metadata holds, and literal blocks for commands.
//
// It serves the fence agents' "manpage" action and the man page
// generator of the packages (pkg/ocf/metaxml); it keeps no state and does
// no work at load.
package roff
