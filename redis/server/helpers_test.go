package server

import "github.com/replsm/replsm/redis/resp"

func resptestLimits() resp.Limits { return resp.Limits{MaxBulkLen: 10} }
