// peer.go - benchmark peer: a Scope plugin written the way Scope's Go
// examples are (examples/plugins/iowait, scope-iowait): net/http on a unix
// socket, a report struct built and json.Marshal'ed on every GET /report.
// It serves the same documents as mod-trivial.c / mod-realistic.c.
//
//	go run peer.go -socket PATH [-id ID] [-shape trivial|realistic] [-cached]
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
	"sync"
	"syscall"
	"time"
)

type report struct {
	Host    *topology    `json:"Host,omitempty"`
	Process *topology    `json:"Process,omitempty"`
	Plugins []pluginSpec `json:"Plugins"`
}

type topology struct {
	Nodes             map[string]node             `json:"nodes"`
	MetadataTemplates map[string]metadataTemplate `json:"metadata_templates,omitempty"`
	MetricTemplates   map[string]metricTemplate   `json:"metric_templates,omitempty"`
}

type node struct {
	ID       string                 `json:"id"`
	Topology string                 `json:"topology"`
	Latest   map[string]stringEntry `json:"latest,omitempty"`
	Metrics  map[string]metric      `json:"metrics,omitempty"`
	Parents  map[string][]string    `json:"parents,omitempty"`
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
}

func (p *plugin) makeReport() *report {
	now := time.Now().UTC().Truncate(time.Millisecond)
	rpt := &report{}
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
	return rpt
}

func (p *plugin) marshal() ([]byte, error) {
	return json.Marshal(*p.makeReport())
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
		shape  = flag.String("shape", "trivial", "report shape: trivial or realistic")
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
