package cluster

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// crcTable is CRC16-XMODEM's (polynomial 0x1021, initial value 0) byte
// table, the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is CRC16-XMODEM of b.
func CRC16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

// HashSlot is the hash slot of key: when the key holds a '{' followed later
// by a '}' with at least one byte between them, only the bytes between the
// first '{' and the first '}' after it are hashed (a hash tag), so keys
// sharing a tag share a slot.
func HashSlot(key []byte) int {
	for i, b := range key {
		if b != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(CRC16(key)) & (NumSlots - 1)
			}
		}
		break
	}
	return int(CRC16(key)) & (NumSlots - 1)
}
