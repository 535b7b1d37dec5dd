package cluster

import "testing"

func TestCRC16XModemCheckValue(t *testing.T) {
	// The standard check value of CRC16-XMODEM, also in Redis's crc16.c.
	if got := CRC16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("CRC16(123456789) = %#x, want 0x31c3", got)
	}
}

func TestHashSlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		slot int
	}{
		// Values CLUSTER KEYSLOT gives on a real Redis 7.0.
		{"foo", 12182},
		{"bar", 5061},
		{"", 0},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},    // empty first tag: the whole key
		{"foo{{bar}}zap", 4015}, // tag is "{bar"
		{"foo{bar}{zap}", 5061}, // first tag only: "bar"
		{"{", 4092},             // no closing brace: the whole key
	} {
		if got := HashSlot([]byte(tc.key)); got != tc.slot {
			t.Errorf("HashSlot(%q) = %d, want %d", tc.key, got, tc.slot)
		}
	}
}
