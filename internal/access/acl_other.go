//go:build !linux

package access

const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

type aclEntry struct {
	tag, perm uint32
	id        uint32
}

// readACL reads no ACL off Linux: the mode bits decide.
func readACL(string) []aclEntry { return nil }
