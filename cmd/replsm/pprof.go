package main

import (
	"net"
	"net/http"
	"net/http/pprof"
)

// servePprof serves the runtime profiles (/debug/pprof/...) on addr, for
// measuring a running replica (make bench-fullsync takes its CPU and heap
// profiles this way). It is off unless --pprof-listen is given.
func servePprof(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	go func() { _ = http.Serve(ln, mux) }()
	return ln, nil
}
