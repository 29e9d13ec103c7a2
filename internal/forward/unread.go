package forward

// DropUnread gives back the pooled buffer of client bytes read ahead
// ([AwaitFirst]) that crypto/tls never took, which happens when a
// handshake fails before it has read the whole first flight: crypto/tls
// reads a record header into 576 bytes, so a plain HTTP request longer
// than that is refused with the rest unread. Without it the buffer is
// left to the collector, and the pool allocates a new 64 KiB one for the
// next connection. Only the goroutine that read c may call it, once it
// reads no more; a connection handed to [Start] needs none.
func (c *Conn) DropUnread() { c.releaseAhead() }
