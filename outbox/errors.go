package outbox

import "errors"

var (
	// ErrInvalidConfig is returned (wrapped, naming the field) by New for a
	// nil store, sink or clock, or an out-of-range Config field, and by
	// NewHTTPSink for an unusable URL.
	ErrInvalidConfig = errors.New("outbox: invalid configuration")

	// ErrDeliveryFailed is returned (wrapped with the sink's error and the
	// milestone) by DeliverPending when the sink refused a milestone. The
	// milestone stays pending and is retried after the backoff.
	ErrDeliveryFailed = errors.New("outbox: delivery failed")

	// ErrNotDue is returned by DeliverPending when the backoff after the last
	// failure has not elapsed; Stats().NextAttempt says when it does. The
	// sink was not called.
	ErrNotDue = errors.New("outbox: retry not due yet")

	// ErrBreakerOpen is returned by DeliverPending while the circuit breaker
	// is open and its cooldown has not elapsed. The sink was not called.
	ErrBreakerOpen = errors.New("outbox: circuit breaker open")

	// ErrHTTPStatus is wrapped by the error HTTPSink.Deliver returns when
	// the receiver answers with a status outside 2xx (see StatusError).
	ErrHTTPStatus = errors.New("outbox: receiver answered with a non-2xx status")
)
