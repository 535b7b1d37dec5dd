package keyspace

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/replsm/replsm/redis/resp"
)

// Geo sets are sorted sets whose scores are 52-bit geohashes; GEOADD
// reaches a replica as ZADD. What remains are the searches that STORE
// their result (GEOSEARCHSTORE, GEORADIUS[BYMEMBER] ... STORE|STOREDIST),
// which a primary propagates verbatim, and the reads. This follows geo.c
// and geohash_helper.c (Redis 7.0): members decode to their cell's centre,
// distances are haversine on Redis's earth radius, and a member is in the
// shape exactly when that distance test passes. Redis finds candidates
// through geohash boxes that cover the shape; scanning every member and
// applying the same test selects the same members. (COUNT ... ANY stops at
// the first members found in Redis's box order, which a scan cannot
// reproduce.)

const (
	geoLatMin    = -85.05112878
	geoLatMax    = 85.05112878
	geoLongMin   = -180.0
	geoLongMax   = 180.0
	geoStep      = 26
	earthRadiusM = 6372797.560856
)

// Computed in float64 at run time, as C computes them: Go would fold the
// constant expressions exactly and round once, which can differ in the
// last bit.
var (
	geoPi        = math.Pi
	degToRad     = geoPi / 180.0
	geoLatScale  = func(a, b float64) float64 { return b - a }(geoLatMin, geoLatMax)
	geoLongScale = func(a, b float64) float64 { return b - a }(geoLongMin, geoLongMax)
)

func deinterleave64(v uint64) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
		0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF}
	s := [...]uint{0, 1, 2, 4, 8, 16}
	x, y := v, v>>1
	for i := range b {
		x = (x | x>>s[i]) & b[i]
		y = (y | y>>s[i]) & b[i]
	}
	return x | y<<32
}

// geoDecode turns a geohash score into the longitude and latitude of its
// cell's centre (geohashDecodeToLongLatWGS84).
func geoDecode(score float64) (lon, lat float64) {
	sep := deinterleave64(uint64(score))
	ilat, ilon := float64(uint32(sep)), float64(uint32(sep>>32))
	scale := float64(uint64(1) << geoStep)
	// float64(...) around each product keeps the compiler from fusing it
	// with the addition (C rounds both).
	latMin := geoLatMin + float64(float64(ilat/scale)*geoLatScale)
	latMax := geoLatMin + float64(float64((ilat+1)/scale)*geoLatScale)
	lonMin := geoLongMin + float64(float64(ilon/scale)*geoLongScale)
	lonMax := geoLongMin + float64(float64((ilon+1)/scale)*geoLongScale)
	lon = min(max((lonMin+lonMax)/2, geoLongMin), geoLongMax)
	lat = min(max((latMin+latMax)/2, geoLatMin), geoLatMax)
	return lon, lat
}

func geoLatDistance(lat1, lat2 float64) float64 {
	return earthRadiusM * math.Abs(lat2*degToRad-lat1*degToRad)
}

// geoDistance is geohashGetDistance.
func geoDistance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := lon1*degToRad, lon2*degToRad
	v := crSin((lon2r - lon1r) / 2)
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r, lat2r := lat1*degToRad, lat2*degToRad
	u := crSin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(crCos(lat1r)*crCos(lat2r))*v)*v
	return 2.0 * earthRadiusM * crAsin(math.Sqrt(a))
}

type geoShape struct {
	lon, lat      float64
	box           bool
	radius        float64
	width, height float64
	conversion    float64
}

// within is geoWithinShape. Go's math functions (a few ulps off glibc's)
// rule out members clearly outside first; the correctly rounded distance,
// which decides the boundary and is what gets stored, is computed only for
// the rest, so a search costs that only per member it returns.
func (s geoShape) within(lon, lat float64) (float64, bool) {
	if !s.box {
		limit := s.radius * s.conversion
		if geoDistanceFast(s.lon, s.lat, lon, lat) > limit*(1+1e-9)+1e-6 {
			return 0, false
		}
		d := geoDistance(s.lon, s.lat, lon, lat)
		return d, d <= limit
	}
	w, h := s.width*s.conversion, s.height*s.conversion
	if geoLatDistance(lat, s.lat) > h/2 {
		return 0, false
	}
	if geoDistanceFast(lon, lat, s.lon, lat) > (w/2)*(1+1e-9)+1e-6 {
		return 0, false
	}
	if geoDistance(lon, lat, s.lon, lat) > w/2 {
		return 0, false
	}
	return geoDistance(s.lon, s.lat, lon, lat), true
}

// geoDistanceFast is geoDistance with Go's math functions: within a few
// ulps of it, for prefiltering only.
func geoDistanceFast(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := lon1*degToRad, lon2*degToRad
	v := math.Sin((lon2r - lon1r) / 2)
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r, lat2r := lat1*degToRad, lat2*degToRad
	u := math.Sin((lat2r - lat1r) / 2)
	a := u*u + math.Cos(lat1r)*math.Cos(lat2r)*v*v
	return 2.0 * earthRadiusM * math.Asin(math.Sqrt(a))
}

type geoPoint struct {
	member   string
	score    float64
	dist     float64
	lon, lat float64
}

func geoUnit(b []byte) (float64, bool) {
	switch lower(b) {
	case "m":
		return 1, true
	case "km":
		return 1000, true
	case "ft":
		return 0.3048, true
	case "mi":
		return 1609.34, true
	}
	return 0, false
}

func unitErr() Reply { return errReply("ERR unsupported unit provided. please use M, KM, FT, MI") }

// geoQuery is a parsed GEORADIUS*/GEOSEARCH*.
type geoQuery struct {
	shape                         geoShape
	fromMember                    []byte
	withDist, withHash, withCoord bool
	any                           bool
	count                         int64
	sort                          int // 0 none, 1 asc, -1 desc
	store                         []byte
	storeDist                     bool
}

const (
	geoRadius = iota
	geoRadiusByMember
	geoSearch
	geoSearchStore
)

// parseGeo parses args[i:] after the fixed part of each form.
func (c *execCtx) parseGeo(kind int, args [][]byte, readOnly bool) (geoQuery, *Reply) {
	var q geoQuery
	fail := func(r Reply) (geoQuery, *Reply) { return q, &r }
	i := 2
	switch kind {
	case geoRadius:
		lon, ok1 := parseDouble(args[2])
		lat, ok2 := parseDouble(args[3])
		if !ok1 || !ok2 {
			return fail(notFloat())
		}
		if lon < geoLongMin || lon > geoLongMax || lat < geoLatMin || lat > geoLatMax {
			return fail(errReply(fmt.Sprintf("ERR invalid longitude,latitude pair %f,%f", lon, lat)))
		}
		q.shape.lon, q.shape.lat = lon, lat
		i = 4
	case geoRadiusByMember:
		q.fromMember = args[2]
		i = 3
	case geoSearchStore:
		i = 3
	}
	if kind == geoRadius || kind == geoRadiusByMember {
		r, ok := parseDouble(args[i])
		if !ok {
			return fail(errReply("ERR need numeric radius"))
		}
		if r < 0 {
			return fail(errReply("ERR radius cannot be negative"))
		}
		conv, ok := geoUnit(args[i+1])
		if !ok {
			return fail(unitErr())
		}
		q.shape.radius, q.shape.conversion = r, conv
		i += 2
	}
	byRadius, byBox, fromLonLat := false, false, false
	search := kind == geoSearch || kind == geoSearchStore
	for ; i < len(args); i++ {
		rem := len(args) - i - 1
		switch opt := lower(args[i]); {
		case opt == "withdist" && kind != geoSearchStore:
			q.withDist = true
		case opt == "withhash" && kind != geoSearchStore:
			q.withHash = true
		case opt == "withcoord" && kind != geoSearchStore:
			q.withCoord = true
		case opt == "any":
			q.any = true
		case opt == "asc":
			q.sort = 1
		case opt == "desc":
			q.sort = -1
		case opt == "count" && rem >= 1:
			n, ok := parseInt(args[i+1])
			if !ok {
				return fail(notInteger())
			}
			if n <= 0 {
				return fail(errReply("ERR COUNT must be > 0"))
			}
			q.count = n
			i++
		case !search && !readOnly && opt == "store" && rem >= 1:
			q.store, q.storeDist = args[i+1], false
			i++
		case !search && !readOnly && opt == "storedist" && rem >= 1:
			q.store, q.storeDist = args[i+1], true
			i++
		case kind == geoSearchStore && opt == "storedist":
			q.storeDist = true
		case search && opt == "frommember" && rem >= 1 && !fromLonLat && q.fromMember == nil:
			q.fromMember = args[i+1]
			i++
		case search && opt == "fromlonlat" && rem >= 2 && !fromLonLat && q.fromMember == nil:
			lon, ok1 := parseDouble(args[i+1])
			lat, ok2 := parseDouble(args[i+2])
			if !ok1 || !ok2 {
				return fail(notFloat())
			}
			if lon < geoLongMin || lon > geoLongMax || lat < geoLatMin || lat > geoLatMax {
				return fail(errReply(fmt.Sprintf("ERR invalid longitude,latitude pair %f,%f", lon, lat)))
			}
			q.shape.lon, q.shape.lat, fromLonLat = lon, lat, true
			i += 2
		case search && opt == "byradius" && rem >= 2 && !byRadius && !byBox:
			r, ok := parseDouble(args[i+1])
			if !ok {
				return fail(errReply("ERR need numeric radius"))
			}
			if r < 0 {
				return fail(errReply("ERR radius cannot be negative"))
			}
			conv, ok := geoUnit(args[i+2])
			if !ok {
				return fail(unitErr())
			}
			q.shape.radius, q.shape.conversion, byRadius = r, conv, true
			i += 2
		case search && opt == "bybox" && rem >= 3 && !byRadius && !byBox:
			w, ok1 := parseDouble(args[i+1])
			h, ok2 := parseDouble(args[i+2])
			if !ok1 {
				return fail(errReply("ERR need numeric width"))
			}
			if !ok2 {
				return fail(errReply("ERR need numeric height"))
			}
			if w < 0 || h < 0 {
				return fail(errReply("ERR height or width cannot be negative"))
			}
			conv, ok := geoUnit(args[i+3])
			if !ok {
				return fail(unitErr())
			}
			q.shape.width, q.shape.height, q.shape.conversion, q.shape.box, byBox = w, h, conv, true, true
			i += 3
		default:
			return fail(syntaxErr())
		}
	}
	if search {
		if q.fromMember == nil && !fromLonLat {
			return fail(errReply("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + string(args[0])))
		}
		if !byRadius && !byBox {
			return fail(errReply("ERR exactly one of BYRADIUS and BYBOX can be specified for " + string(args[0])))
		}
	}
	if q.store != nil && (q.withDist || q.withHash || q.withCoord) {
		return fail(errReply("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"))
	}
	if q.any && q.count == 0 {
		return fail(errReply("ERR the ANY argument requires COUNT argument"))
	}
	if kind == geoSearchStore {
		q.store = args[1]
	}
	return q, nil
}

func geoGeneric(kind int, readOnly bool) func(c *execCtx, args [][]byte) Reply {
	return func(c *execCtx, args [][]byte) Reply {
		min := map[int]int{geoRadius: 6, geoRadiusByMember: 5, geoSearch: 7, geoSearchStore: 8}[kind]
		if len(args) < min {
			return arityReply(lower(args[0]))
		}
		q, bad := c.parseGeo(kind, args, readOnly)
		if bad != nil {
			return *bad
		}
		srcKey := args[1]
		if kind == geoSearchStore {
			srcKey = args[2]
		}
		write := q.store != nil
		var o *object
		var ok bool
		if write {
			o, ok = c.writeTyped(srcKey, TypeZSet)
		} else {
			o, ok = c.readTyped(srcKey, TypeZSet)
		}
		if !ok {
			return wrongType()
		}
		if o == nil {
			if write {
				if c.db.remove(string(q.store)) {
					c.dirty++
				}
				return integer(0)
			}
			return resp.Array()
		}
		if q.fromMember != nil {
			s, found := o.zset.score(string(q.fromMember))
			if !found {
				return errReply("ERR could not decode requested zset member")
			}
			q.shape.lon, q.shape.lat = geoDecode(s)
		}
		if q.count != 0 && q.sort == 0 && !q.any {
			q.sort = 1
		}
		var pts []geoPoint
		for _, m := range o.zset.sorted {
			lon, lat := geoDecode(m.Score)
			d, in := q.shape.within(lon, lat)
			if !in {
				continue
			}
			pts = append(pts, geoPoint{member: m.Member, score: m.Score, dist: d, lon: lon, lat: lat})
			if q.any && int64(len(pts)) >= q.count {
				break
			}
		}
		if q.sort != 0 {
			slices.SortStableFunc(pts, func(a, b geoPoint) int {
				switch {
				case a.dist > b.dist:
					return q.sort
				case a.dist < b.dist:
					return -q.sort
				}
				return 0
			})
		}
		if q.count > 0 && int64(len(pts)) > q.count {
			pts = pts[:q.count]
		}
		if write {
			if len(pts) == 0 {
				if c.db.remove(string(q.store)) {
					c.dirty++
				}
				return integer(0)
			}
			z := newZSet(c.gen())
			for _, p := range pts {
				s := p.score
				if q.storeDist {
					s = p.dist / q.shape.conversion
				}
				z.zset.set(p.member, s)
			}
			c.setValue(q.store, z, false)
			c.dirty += len(pts)
			return integer(int64(len(pts)))
		}
		out := make([]Reply, 0, len(pts))
		for _, p := range pts {
			if !q.withDist && !q.withHash && !q.withCoord {
				out = append(out, bulkStr(p.member))
				continue
			}
			item := []Reply{bulkStr(p.member)}
			if q.withDist {
				item = append(item, bulkStr(strconv.FormatFloat(p.dist/q.shape.conversion, 'f', 4, 64)))
			}
			if q.withHash {
				item = append(item, integer(int64(p.score)))
			}
			if q.withCoord {
				item = append(item, resp.Array(bulkStr(humanDouble(p.lon)), bulkStr(humanDouble(p.lat))))
			}
			out = append(out, resp.Array(item...))
		}
		return resp.Array(out...)
	}
}

// humanDouble is addReplyHumanLongDouble (ld2string LD_STR_HUMAN): "%.17Lf"
// of the double's exact value, trailing zeros and point removed.
func humanDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', 17, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func cmdGeoPos(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	out := make([]Reply, 0, len(args)-2)
	for _, m := range args[2:] {
		var s float64
		found := false
		if o != nil {
			s, found = o.zset.score(string(m))
		}
		if !found {
			out = append(out, resp.NullArray())
			continue
		}
		lon, lat := geoDecode(s)
		out = append(out, resp.Array(bulkStr(humanDouble(lon)), bulkStr(humanDouble(lat))))
	}
	return resp.Array(out...)
}

func cmdGeoDist(c *execCtx, args [][]byte) Reply {
	conv := 1.0
	if len(args) == 5 {
		var ok bool
		if conv, ok = geoUnit(args[4]); !ok {
			return unitErr()
		}
	} else if len(args) > 5 {
		return syntaxErr()
	}
	o, ok := c.readTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	s1, ok1 := o.zset.score(string(args[2]))
	s2, ok2 := o.zset.score(string(args[3]))
	if !ok1 || !ok2 {
		return null()
	}
	lon1, lat1 := geoDecode(s1)
	lon2, lat2 := geoDecode(s2)
	return bulkStr(strconv.FormatFloat(geoDistance(lon1, lat1, lon2, lat2)/conv, 'f', 4, 64))
}
