package timeouts_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/timeouts"
)

func ExampleBackoff_Delay() {
	b := timeouts.DefaultBackoff()
	for attempt := range 4 {
		fmt.Println(attempt, b.Delay(attempt, nil))
	}
	fmt.Println(50, b.Delay(50, nil))

	// With a seeded source the jitter is repeatable.
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Println("jittered", b.Delay(0, r))
	// Output:
	// 0 1s
	// 1 1.6s
	// 2 2.56s
	// 3 4.096s
	// 50 2m0s
	// jittered 1.070582263s
}

func ExampleBudget() {
	b, err := timeouts.NewBudget(2, time.Minute)
	if err != nil {
		panic(err)
	}
	start := time.Unix(0, 0)
	for range 3 {
		attempt, ok := b.Take()
		fmt.Printf("recovery %d/%d allowed=%v\n", attempt, b.Cap(), ok)
	}
	// Healthy for a full stable period earns the budget back.
	b.Connected(start)
	fmt.Println("refilled:", b.Disconnected(start.Add(time.Minute)), "remaining:", b.Remaining())
	// Output:
	// recovery 1/2 allowed=true
	// recovery 2/2 allowed=true
	// recovery 0/2 allowed=false
	// refilled: true remaining: 2
}

// A test drives the scheduler on a mock clock from one goroutine: arm,
// advance, RunDue. Nothing runs in the background and no mock timers exist.
func ExampleScheduler_RunDue() {
	mock := clock.NewMock()
	start := mock.Now()
	s := timeouts.NewScheduler(mock, func(slot string, deadline time.Time) {
		fmt.Printf("%s timed out at +%v\n", slot, deadline.Sub(start))
	})
	s.Arm("slot-1", start.Add(20*time.Second)) // keepalive timeout
	s.Arm("slot-2", start.Add(5*time.Second))  // reply timeout
	s.Arm("slot-3", start.Add(5*time.Second))
	s.Cancel("slot-3") // the reply arrived

	mock.Add(10 * time.Second)
	fmt.Println("fired:", s.RunDue(), "pending:", s.Len())
	mock.Add(10 * time.Second)
	fmt.Println("fired:", s.RunDue(), "pending:", s.Len())
	// Output:
	// slot-2 timed out at +5s
	// fired: 1 pending: 1
	// slot-1 timed out at +20s
	// fired: 1 pending: 0
}

// In production the scheduler runs its own loop on the real clock.
func ExampleScheduler_Start() {
	clk := clock.New()
	done := make(chan string)
	s := timeouts.NewScheduler(clk, func(key string, _ time.Time) { done <- key })
	s.Start()
	defer s.Stop()

	s.Arm("slot-1", clk.Now().Add(10*time.Millisecond))
	fmt.Println(<-done)
	// Output:
	// slot-1
}
