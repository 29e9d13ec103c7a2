package access

import (
	"encoding/binary"
	"syscall"
)

// Tags of POSIX ACL entries (linux/posix_acl.h).
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclEntry is one entry of an access ACL.
type aclEntry struct {
	tag, perm uint32
	id        uint32 // uid or gid of a named entry
}

// readACL returns the access ACL of path (the system.posix_acl_access
// extended attribute, linux/posix_acl_xattr.h: a little-endian version 2
// header, then 8-byte entries of tag, permissions and id), or nil if it
// has none, or none that can be read: then its mode bits decide.
func readACL(path string) []aclEntry {
	const name = "system.posix_acl_access"
	n, err := syscall.Getxattr(path, name, nil)
	if err != nil || n < 4 {
		return nil
	}
	buf := make([]byte, n)
	if n, err = syscall.Getxattr(path, name, buf); err != nil || n < 4 {
		return nil
	}
	buf = buf[:n]
	if binary.LittleEndian.Uint32(buf) != 2 || (len(buf)-4)%8 != 0 {
		return nil
	}
	var out []aclEntry
	for b := buf[4:]; len(b) >= 8; b = b[8:] {
		out = append(out, aclEntry{
			tag:  uint32(binary.LittleEndian.Uint16(b)),
			perm: uint32(binary.LittleEndian.Uint16(b[2:])),
			id:   binary.LittleEndian.Uint32(b[4:]),
		})
	}
	return out
}
