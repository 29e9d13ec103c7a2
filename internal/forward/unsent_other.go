//go:build !linux

package forward

// unsent cannot tell how many bytes the kernel holds for the peer here.
func (c *Conn) unsent() int { return -1 }
