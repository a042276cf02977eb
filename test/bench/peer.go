// peer.go - benchmark peer: a Scope plugin written the way Scope's Go
// examples are (examples/plugins/iowait, scope-iowait): net/http on a unix
// socket, a report struct built and json.Marshal'ed on every GET /report.
// It serves the same documents as mod-trivial.c / mod-realistic.c, or
// with -shape iowait the bundled iowait module's (plugins/iowait.c): the
// share of CPU time in iowait between two samples of /proc/stat's cpu
// line, read per request (os.ReadFile, as idiomatic Go does), with its
// two controls.  Scope's own iowait example runs iostat(1) per request,
// a fork and exec that costs far more; reading /proc/stat is the same
// work as the module does, so the comparison is like for like.
//
//	go run peer.go -socket PATH [-id ID] [-shape trivial|realistic|iowait] [-cached]
//
// -cached marshals the report once a second in the background and serves
// the last one (the equivalent of a module's interval_ms).
//
// Unlike iowait, it sets Content-Length: for bodies over net/http's 2 KB
// buffer Go would otherwise answer chunked, and the probe needs a length to
// keep the connection (docs/ARCHITECTURE.md, "What Scope's probe expects" 2).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type report struct {
	Host    interface{}  `json:"Host,omitempty"`
	Process *topology    `json:"Process,omitempty"`
	Plugins []pluginSpec `json:"Plugins"`
}

type topology struct {
	Nodes             map[string]node             `json:"nodes"`
	MetadataTemplates map[string]metadataTemplate `json:"metadata_templates,omitempty"`
	MetricTemplates   map[string]metricTemplate   `json:"metric_templates,omitempty"`
}

type topologyControls struct {
	Nodes           map[string]node           `json:"nodes"`
	Controls        map[string]control        `json:"controls"`
	MetricTemplates map[string]metricTemplate `json:"metric_templates"`
}

type node struct {
	ID             string                  `json:"id"`
	Topology       string                  `json:"topology"`
	Latest         map[string]stringEntry  `json:"latest,omitempty"`
	Metrics        map[string]metric       `json:"metrics,omitempty"`
	Parents        map[string][]string     `json:"parents,omitempty"`
	LatestControls map[string]controlEntry `json:"latestControls,omitempty"`
}

type control struct {
	ID    string `json:"id"`
	Human string `json:"human"`
	Icon  string `json:"icon"`
	Rank  int    `json:"rank"`
}

type controlEntry struct {
	Timestamp time.Time    `json:"timestamp"`
	Value     controlState `json:"value"`
}

type controlState struct {
	Dead bool `json:"dead"`
}

type stringEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Value     string    `json:"value"`
}

type metric struct {
	Samples []sample `json:"samples"`
	Min     float64  `json:"min"`
	Max     float64  `json:"max"`
}

type sample struct {
	Date  time.Time `json:"date"`
	Value float64   `json:"value"`
}

type metadataTemplate struct {
	ID       string  `json:"id"`
	Label    string  `json:"label"`
	From     string  `json:"from"`
	Priority float64 `json:"priority"`
}

type metricTemplate struct {
	ID       string  `json:"id"`
	Label    string  `json:"label"`
	Format   string  `json:"format"`
	Priority float64 `json:"priority"`
}

type pluginSpec struct {
	ID          string   `json:"id"`
	Label       string   `json:"label"`
	Description string   `json:"description,omitempty"`
	Interfaces  []string `json:"interfaces"`
	APIVersion  string   `json:"api_version,omitempty"`
}

type plugin struct {
	id    string
	shape string

	lock   sync.Mutex
	cached []byte

	// iowait: the last sample of /proc/stat's cpu line.
	prevIOWait, prevTotal uint64
}

// cpuSample reads the aggregate cpu line of /proc/stat: iowait and total ticks.
func cpuSample() (iowait, total uint64, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line := string(raw)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: no cpu line")
	}
	for i := 1; i < len(f) && i <= 8; i++ {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i == 5 {
			iowait = v
		}
	}
	return iowait, total, nil
}

func (p *plugin) iowaitReport(now time.Time) (*topologyControls, error) {
	iowait, total, err := cpuSample()
	if err != nil {
		return nil, err
	}
	p.lock.Lock()
	value := 0.0
	if total > p.prevTotal {
		value = 100 * float64(iowait-p.prevIOWait) / float64(total-p.prevTotal)
	} else if total > 0 {
		value = 100 * float64(iowait) / float64(total)
	}
	p.prevIOWait, p.prevTotal = iowait, total
	p.lock.Unlock()
	host, _ := os.Hostname()
	id := host + ";<host>"
	return &topologyControls{
		Nodes: map[string]node{
			id: {
				ID:       id,
				Topology: "host",
				Latest: map[string]stringEntry{
					"control_probe_id": {Timestamp: now, Value: "5f2a9c"},
				},
				Metrics: map[string]metric{
					"iowait": {Samples: []sample{{Date: now, Value: value}}, Min: 0, Max: 100},
				},
				LatestControls: map[string]controlEntry{
					"switchToIdle":   {Timestamp: now, Value: controlState{Dead: false}},
					"switchToIOWait": {Timestamp: now, Value: controlState{Dead: true}},
				},
			},
		},
		Controls: map[string]control{
			"switchToIdle":   {ID: "switchToIdle", Human: "Switch to idle", Icon: "fa fa-gears", Rank: 1},
			"switchToIOWait": {ID: "switchToIOWait", Human: "Switch to IO wait", Icon: "fa fa-clock-o", Rank: 1},
		},
		MetricTemplates: map[string]metricTemplate{
			"iowait": {ID: "iowait", Label: "IO wait", Format: "percent", Priority: 0.1},
		},
	}, nil
}

func (p *plugin) makeReport() (*report, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	rpt := &report{}
	if p.shape == "iowait" {
		host, err := p.iowaitReport(now)
		if err != nil {
			return nil, err
		}
		rpt.Host = host
		rpt.Plugins = []pluginSpec{{
			ID:          p.id,
			Label:       "IO wait",
			Description: "Adds a graph of CPU IO wait (or idle) to hosts",
			Interfaces:  []string{"reporter", "controller"},
			APIVersion:  "1",
		}}
		return rpt, nil
	}
	if p.shape == "realistic" {
		nodes := make(map[string]node, 50)
		for i := 0; i < 50; i++ {
			id := "bench-host;" + strconv.Itoa(1000+i)
			nodes[id] = node{
				ID:       id,
				Topology: "process",
				Latest: map[string]stringEntry{
					"bench_cmd": {Timestamp: now, Value: fmt.Sprintf("/usr/bin/bench-worker --instance %d", i)},
				},
				Metrics: map[string]metric{
					"bench_rps":    {Samples: []sample{{Date: now, Value: 1.5 * float64(i)}}, Min: 0, Max: 1000},
					"bench_errors": {Samples: []sample{{Date: now, Value: float64(i % 7)}}, Min: 0, Max: 100},
				},
				Parents: map[string][]string{"host": {"bench-host;<host>"}},
			}
		}
		rpt.Process = &topology{
			Nodes: nodes,
			MetadataTemplates: map[string]metadataTemplate{
				"bench_cmd": {ID: "bench_cmd", Label: "Command", From: "latest", Priority: 1.5},
			},
			MetricTemplates: map[string]metricTemplate{
				"bench_rps":    {ID: "bench_rps", Label: "Requests/s", Format: "", Priority: 2.5},
				"bench_errors": {ID: "bench_errors", Label: "Errors/s", Format: "integer", Priority: 3.5},
			},
		}
	} else {
		rpt.Host = &topology{
			Nodes: map[string]node{
				"bench-host;<host>": {
					ID:       "bench-host;<host>",
					Topology: "host",
					Metrics: map[string]metric{
						"bench_value": {Samples: []sample{{Date: now, Value: 42.5}}, Min: 0, Max: 100},
					},
				},
			},
		}
	}
	rpt.Plugins = []pluginSpec{{
		ID:          p.id,
		Label:       "Bench " + p.shape,
		Description: "Benchmark peer: Go net/http",
		Interfaces:  []string{"reporter"},
		APIVersion:  "1",
	}}
	return rpt, nil
}

func (p *plugin) marshal() ([]byte, error) {
	rpt, err := p.makeReport()
	if err != nil {
		return nil, err
	}
	return json.Marshal(*rpt)
}

func (p *plugin) Report(w http.ResponseWriter, r *http.Request) {
	var raw []byte
	var err error
	p.lock.Lock()
	raw = p.cached
	p.lock.Unlock()
	if raw == nil {
		raw, err = p.marshal()
		if err != nil {
			log.Printf("error marshalling report: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}

func main() {
	var (
		addr   = flag.String("socket", "", "unix socket to listen on")
		id     = flag.String("id", "", "plugin id (default: socket base name)")
		shape  = flag.String("shape", "trivial", "report shape: trivial, realistic or iowait")
		cached = flag.Bool("cached", false, "marshal once a second, serve the last report")
	)
	flag.Parse()
	if *addr == "" {
		log.Fatal("-socket is required")
	}
	p := &plugin{id: *id, shape: *shape}
	if p.id == "" {
		p.id = "bench-" + *shape
	}
	if *cached {
		raw, err := p.marshal()
		if err != nil {
			log.Fatal(err)
		}
		p.cached = raw
		go func() {
			for range time.Tick(time.Second) {
				raw, err := p.marshal()
				if err == nil {
					p.lock.Lock()
					p.cached = raw
					p.lock.Unlock()
				}
			}
		}()
	}

	os.Remove(*addr)
	listener, err := net.Listen("unix", *addr)
	if err != nil {
		log.Fatal(err)
	}
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupt
		os.Remove(*addr)
		os.Exit(0)
	}()

	http.HandleFunc("/report", p.Report)
	if err := http.Serve(listener, nil); err != nil {
		log.Printf("error serving: %v", err)
	}
}
