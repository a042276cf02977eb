/*
 * validate-test.c - cases for validate_report(): accepted reports and one
 * rejection per rule, each with the substring its cause must contain.
 * JSON is written with ' for " to stay readable (R() adds the Plugins
 * entry); raw cases are used verbatim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define ID "cpu-temp"
#define PL "'Plugins':[{'id':'cpu-temp','label':'CPU temperature'," \
	"'description':'d','interfaces':['reporter'],'api_version':'1'}]"
#define PLC "'Plugins':[{'id':'cpu-temp','label':'CPU temperature'," \
	"'interfaces':['reporter','controller'],'api_version':'1'}]"
/* A report: the members given, then the Plugins entry. */
#define R(body) "{" body "," PL "}"
/* A Host node "a;<host>" with the members given. */
#define NODE(body) R("'Host':{'nodes':{'a;<host>':{" body "}}}")
#define LATEST(ts) NODE("'latest':{'x':{'timestamp':'" ts "','value':'v'}}")
#define TS1 "2024-03-01T10:00:01Z"
#define TS2 "2024-03-01T10:00:02Z"
#define SAMPLE(d, v) "{'date':'" d "','value':" v "}"
#define METRIC(samples) NODE("'metrics':{'m':{'samples':[" samples "]," \
	"'min':0,'max':100}}")
#define MDT(body) R("'Host':{'metadata_templates':{'k':{'id':'k'," body "}}}")

static const char protocol_example[] =
"{\n"
"  \"Host\": {\n"
"    \"nodes\": {\n"
"      \"node-a;<host>\": {\n"
"        \"id\": \"node-a;<host>\",\n"
"        \"topology\": \"host\",\n"
"        \"latest\": {\n"
"          \"cpu_temp_sensor\": {\"timestamp\": \"2024-03-01T10:00:02Z\", \"value\": \"coretemp-isa-0000\"}\n"
"        },\n"
"        \"metrics\": {\n"
"          \"cpu_temp_celsius\": {\n"
"            \"samples\": [\n"
"              {\"date\": \"2024-03-01T10:00:01Z\", \"value\": 51.5},\n"
"              {\"date\": \"2024-03-01T10:00:02.250Z\", \"value\": 52.0}\n"
"            ],\n"
"            \"min\": 0,\n"
"            \"max\": 110\n"
"          }\n"
"        }\n"
"      }\n"
"    },\n"
"    \"metadata_templates\": {\n"
"      \"cpu_temp_sensor\": {\"id\": \"cpu_temp_sensor\", \"label\": \"Temp sensor\",\n"
"                          \"from\": \"latest\", \"priority\": 5.5}\n"
"    },\n"
"    \"metric_templates\": {\n"
"      \"cpu_temp_celsius\": {\"id\": \"cpu_temp_celsius\", \"label\": \"CPU temp (C)\",\n"
"                           \"format\": \"\", \"priority\": 3.5}\n"
"    }\n"
"  },\n"
"  \"Plugins\": [\n"
"    {\"id\": \"cpu-temp\", \"label\": \"CPU temperature\",\n"
"     \"description\": \"Adds CPU package temperature to hosts\",\n"
"     \"interfaces\": [\"reporter\"], \"api_version\": \"1\"}\n"
"  ]\n"
"}\n";

struct vcase {
	const char	*name;
	const char	*json;
	int		 controller;
	const char	*want;	/* NULL: accepted; else a cause substring */
	int		 raw;	/* json used verbatim */
	const char	*id;	/* expected id, ID when NULL and !noid */
	int		 noid;	/* pass expected_id = NULL */
};

static const struct vcase cases[] = {
	/* Accepted. */
	{ "protocol-example", protocol_example, 0, NULL, 1, NULL, 0 },
	{ "plugins-only", "{" PL "}", 0, NULL, 0, NULL, 0 },
	{ "plugins-first", "{" PL ",'Host':{}}", 0, NULL, 0, NULL, 0 },
	{ "controller", "{" PLC "}", 1, NULL, 0, NULL, 0 },
	{ "no-expected-id", "{" PL "}", 0, NULL, 0, NULL, 1 },
	{ "whitespace", " \n\t{" PL "} \n", 0, NULL, 0, NULL, 0 },
	{ "null-containers", R("'Host':null,'Container':{'nodes':null,"
	    "'controls':null,'metadata_templates':null}"), 0, NULL, 0, NULL,
	    0 },
	{ "node-nulls", NODE("'latest':null,'metrics':null,'sets':null,"
	    "'parents':null,'adjacency':null"), 0, NULL, 0, NULL, 0 },
	{ "escaped-id", R("'Host':{'nodes':{'a;\\u003chost\\u003e':{'id':"
	    "'a;<host>','topology':'host'}}}"), 0, NULL, 0, NULL, 0 },
	{ "offset-ts", LATEST("2024-03-01T10:00:01+01:00"), 0, NULL, 0,
	    NULL, 0 },
	{ "negative-offset-ts", LATEST("2024-03-01T10:00:01.5-05:30"), 0,
	    NULL, 0, NULL, 0 },
	{ "long-fraction-ts", LATEST("2024-03-01T10:00:01.123456789123Z"),
	    0, NULL, 0, NULL, 0 },
	{ "leap-day", LATEST("2024-02-29T23:59:59Z"), 0, NULL, 0, NULL, 0 },
	{ "year-2000-leap", LATEST("2000-02-29T00:00:00Z"), 0, NULL, 0,
	    NULL, 0 },
	{ "unknown-node-keys", NODE("'extra':{'a':[1,2,{'b':null}],'c':true},"
	    "'more':[[[]]],'n':1.5e300"), 0, NULL, 0, NULL, 0 },
	{ "unknown-topology-keys", R("'Host':{'shape':'circle','x':[{}],"
	    "'label':'Hosts'}"), 0, NULL, 0, NULL, 0 },
	{ "sets-sorted", NODE("'sets':{'s':['a','b','c'],'t':[]},'parents':"
	    "{'host':['a;<host>']},'adjacency':['a','b']"), 0, NULL, 0, NULL,
	    0 },
	{ "sets-byte-order", NODE("'sets':{'s':['B','a','\\u00e9']}"), 0,
	    NULL, 0, NULL, 0 },
	{ "samples-ascending-offsets", METRIC(
	    SAMPLE("2024-03-01T11:00:00+01:00", "1") ","
	    SAMPLE("2024-03-01T10:00:00.5Z", "2") ","
	    SAMPLE("2024-03-01T10:00:01Z", "-3.25e2")), 0, NULL, 0, NULL, 0 },
	{ "metric-no-min-max", NODE("'metrics':{'m':{'samples':["
	    SAMPLE(TS1, "1") "]}}"), 0, NULL, 0, NULL, 0 },
	{ "templates", R("'Host':{'metadata_templates':{'k':{'id':'k',"
	    "'label':'K','priority':1,'from':'sets','dataType':'number',"
	    "'truncate':10}},'metric_templates':{'m':{'id':'m','format':"
	    "'percent','group':'g','priority':0.5}},'table_templates':{'t':"
	    "{'id':'t','label':'T','prefix':'t-','type':'property-list',"
	    "'columns':[{'id':'c','label':'C','dataType':'ip'}],'fixedRows':"
	    "{'t-a':'A'}}},'controls':{'c':{'id':'c','human':'Do','icon':"
	    "'fa fa-beer','rank':-2,'confirmation':'Sure?'}}}"), 0, NULL, 0,
	    NULL, 0 },
	{ "multicolumn-ok", R("'Host':{'nodes':{'n':{'latest':{"
	    "'tbl-r1___c1':{'timestamp':'" TS1 "','value':'1'},"
	    "'tbl':{'timestamp':'" TS1 "','value':'x'},"
	    "'other':{'timestamp':'" TS1 "','value':'x'}}}},"
	    "'table_templates':{'tt':{'id':'tt','prefix':'tbl-','type':"
	    "'multicolumn-table'}}}"), 0, NULL, 0, NULL, 0 },
	{ "multicolumn-other-topology", R("'Host':{'nodes':{'n':{'latest':{"
	    "'tbl-x':{'timestamp':'" TS1 "','value':'1'}}}}},'Container':{"
	    "'table_templates':{'tt':{'id':'tt','prefix':'tbl-','type':"
	    "'multicolumn-table'}}}"), 0, NULL, 0, NULL, 0 },
	{ "latest-controls-counters", NODE("'latestControls':{'c':{"
	    "'timestamp':'" TS1 "','value':{'dead':false}}},'counters':"
	    "{'n':3}"), 0, NULL, 0, NULL, 0 },
	{ "all-topologies", R("'Host':{},'Container':{},'ContainerImage':{},"
	    "'Process':{},'Endpoint':{},'Overlay':{},'PersistentVolume':{},"
	    "'PersistentVolumeClaim':{},'Pod':{},'Service':{},'Deployment':{},"
	    "'ReplicaSet':{},'DaemonSet':{},'StatefulSet':{},'CronJob':{},"
	    "'Job':{},'Namespace':{},'ECSTask':{},'ECSService':{},"
	    "'SwarmService':{},'StorageClass':{},'VolumeSnapshot':{},"
	    "'VolumeSnapshotData':{}"), 0, NULL, 0, NULL, 0 },
	{ "container-topology", R("'ContainerImage':{'nodes':{'i;"
	    "<container_image>':{'topology':'container_image'}}}"), 0, NULL,
	    0, NULL, 0 },
	/* Framing and size. */
	{ "empty", "", 0, "not valid JSON", 0, NULL, 0 },
	{ "trailing-garbage", "{" PL "} x", 0, "not valid JSON", 0, NULL, 0 },
	{ "two-objects", "{" PL "}{}", 0, "not valid JSON", 0, NULL, 0 },
	{ "truncated", "{" PL, 0, "not valid JSON", 0, NULL, 0 },
	{ "top-array", "[]", 0, "must be a JSON object, not array", 0, NULL,
	    0 },
	{ "top-string", "'x'", 0, "must be a JSON object, not string", 0,
	    NULL, 0 },
	{ "top-null", "null", 0, "must be a JSON object, not null", 0, NULL,
	    0 },
	{ "comment", "{/*c*/" PL "}", 0, "not valid JSON", 0, NULL, 0 },
	{ "bad-utf8", "{'Host':{'nodes':{'\xff':{}}}," PL "}", 0,
	    "not valid JSON", 0, NULL, 0 },
	{ "control-char", "{'Host':{'label':'a\x01'}," PL "}", 0,
	    "not valid JSON", 0, NULL, 0 },

	/* Plugins entry. */
	{ "plugins-missing", "{'Host':{}}", 0,
	    "Plugins: report must contain exactly one plugin (found 0)", 0,
	    NULL, 0 },
	{ "plugins-null", "{'Plugins':null}", 0,
	    "Plugins: report must contain exactly one plugin (found 0)", 0,
	    NULL, 0 },
	{ "plugins-empty", "{'Plugins':[]}", 0,
	    "Plugins: report must contain exactly one plugin (found 0)", 0,
	    NULL, 0 },
	{ "plugins-two", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'interfaces':['reporter'],'api_version':'1'},{'id':'b'}]}", 0,
	    "exactly one plugin (found 2)", 0, NULL, 0 },
	{ "plugins-object", "{'Plugins':{}}", 0,
	    "Plugins: expected array, got object", 0, NULL, 0 },
	{ "plugins-entry-string", "{'Plugins':['x']}", 0,
	    "Plugins[0]: expected object, got string", 0, NULL, 0 },
	{ "plugins-dup", "{" PL "," PL "}", 0, "Plugins: duplicate key", 0,
	    NULL, 0 },
	{ "plugin-id-mismatch", "{" PL "}", 0, "Plugins[0].id: plugin must "
	    "not change its id (is \"cpu-temp\", should be \"other\")", 0,
	    "other", 0 },
	{ "plugin-id-missing", "{'Plugins':[{'label':'L','interfaces':"
	    "['reporter'],'api_version':'1'}]}", 0,
	    "(is \"\", should be \"cpu-temp\")", 0, NULL, 0 },
	{ "plugin-id-number", "{'Plugins':[{'id':1}]}", 0,
	    "Plugins[0].id: expected string, got integer", 0, NULL, 0 },
	{ "api-version-number", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'interfaces':['reporter'],'api_version':1}]}", 0,
	    "Plugins[0].api_version: expected string, got integer", 0, NULL,
	    0 },
	{ "api-version-2", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'interfaces':['reporter'],'api_version':'2'}]}", 0,
	    "incorrect API version: expected \"1\", got \"2\"", 0, NULL, 0 },
	{ "api-version-missing", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'interfaces':['reporter']}]}", 0,
	    "Plugins[0].api_version: incorrect API version", 0, NULL, 0 },
	{ "label-empty", "{'Plugins':[{'id':'cpu-temp','label':'',"
	    "'interfaces':['reporter'],'api_version':'1'}]}", 0,
	    "Plugins[0].label: spec must contain a label", 0, NULL, 0 },
	{ "label-missing", "{'Plugins':[{'id':'cpu-temp',"
	    "'interfaces':['reporter'],'api_version':'1'}]}", 0,
	    "spec must contain a label", 0, NULL, 0 },
	{ "label-null", "{'Plugins':[{'id':'cpu-temp','label':null}]}", 0,
	    "Plugins[0].label: expected string, got null", 0, NULL, 0 },
	{ "no-reporter", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'interfaces':['Reporter'],'api_version':'1'}]}", 0,
	    "Plugins[0].interfaces: spec must implement the \"reporter\"", 0,
	    NULL, 0 },
	{ "interfaces-missing", "{'Plugins':[{'id':'cpu-temp','label':'L',"
	    "'api_version':'1'}]}", 0, "\"reporter\" interface", 0, NULL, 0 },
	{ "interfaces-not-strings", "{'Plugins':[{'id':'cpu-temp','label':"
	    "'L','interfaces':[true]}]}", 0,
	    "Plugins[0].interfaces[0]: expected string, got boolean", 0, NULL,
	    0 },
	{ "controller-unexpected", "{" PLC "}", 0,
	    "\"controller\" listed but the module has no control callback", 0,
	    NULL, 0 },
	{ "controller-missing", "{" PL "}", 1,
	    "\"controller\" missing but the module serves POST /control", 0,
	    NULL, 0 },
	{ "status-number", "{'Plugins':[{'id':'cpu-temp','status':0}]}", 0,
	    "Plugins[0].status: expected string", 0, NULL, 0 },

	/* Top-level keys. */
	{ "ts", R("'TS':'" TS1 "'"), 0,
	    "TS: plugins must not send the report's \"TS\" field", 0, NULL,
	    0 },
	{ "window", R("'Window':1"), 0, "Window: plugins must not send", 0,
	    NULL, 0 },
	{ "shortcut", R("'Shortcut':true"), 0, "Shortcut: plugins must not",
	    0, NULL, 0 },
	{ "dns", R("'DNS':{}"), 0, "DNS: plugins must not", 0, NULL, 0 },
	{ "sampling", R("'Sampling':{}"), 0, "Sampling: plugins must not", 0,
	    NULL, 0 },
	{ "id", R("'ID':'x'"), 0, "ID: plugins must not", 0, NULL, 0 },
	{ "host-lowercase", R("'host':{}"), 0,
	    "host: wrong case: the probe only knows \"Host\"", 0, NULL, 0 },
	{ "containerimage-case", R("'Containerimage':{}"), 0,
	    "wrong case: the probe only knows \"ContainerImage\"", 0, NULL,
	    0 },
	{ "plugins-lowercase", "{'plugins':[]}", 0,
	    "plugins: wrong case: the probe only knows \"Plugins\"", 0, NULL,
	    0 },
	{ "unknown-top", R("'Hosts':{}"), 0, "Hosts: unknown top-level key",
	    0, NULL, 0 },
	{ "shortcut-report-top", R("'shortcutReport':{}"), 0,
	    "unknown top-level key", 0, NULL, 0 },
	{ "dup-topology", R("'Host':{},'Host':{}"), 0,
	    "Host: duplicate key", 0, NULL, 0 },
	{ "topology-array", R("'Host':[]"), 0,
	    "Host: expected object, got array", 0, NULL, 0 },
	{ "topology-string", R("'Host':'x'"), 0,
	    "Host: expected object, got string", 0, NULL, 0 },
	{ "nodes-array", R("'Host':{'nodes':[]}"), 0,
	    "Host.nodes: expected object, got array", 0, NULL, 0 },
	{ "shape-number", R("'Host':{'shape':1}"), 0,
	    "Host.shape: expected string, got integer", 0, NULL, 0 },

	/* Nodes. */
	{ "node-string", R("'Host':{'nodes':{'a':'x'}}"), 0,
	    "Host.nodes.a: expected object, got string", 0, NULL, 0 },
	{ "node-id-mismatch", NODE("'id':'b;<host>'"), 0,
	    "Host.nodes[\"a;<host>\"].id: node id differs from its key in "
	    "\"nodes\": \"b;<host>\"", 0, NULL, 0 },
	{ "node-id-prefix", NODE("'id':'a;<host>x'"), 0,
	    "node id differs", 0, NULL, 0 },
	{ "node-id-number", NODE("'id':5"), 0,
	    "Host.nodes[\"a;<host>\"].id: expected string, got integer", 0,
	    NULL, 0 },
	{ "node-topology-case", NODE("'topology':'Host'"), 0,
	    "Host.nodes[\"a;<host>\"].topology: \"Host\": must be \"host\"", 0,
	    NULL, 0 },
	{ "node-topology-other", R("'Container':{'nodes':{'c':{'topology':"
	    "'host'}}}"), 0, "Container.nodes.c.topology: \"host\": must be "
	    "\"container\"", 0, NULL, 0 },
	{ "node-topology-empty", NODE("'topology':''"), 0,
	    "must be \"host\"", 0, NULL, 0 },
	{ "node-dup-key", NODE("'latest':{},'latest':{}"), 0,
	    "Host.nodes[\"a;<host>\"].latest: duplicate key", 0, NULL, 0 },

	/* latest. */
	{ "ts-docs-form", LATEST("2016-07-20T15:51:05Z01:00"), 0,
	    "Host.nodes[\"a;<host>\"].latest.x.timestamp: not RFC 3339: "
	    "\"2016-07-20T15:51:05Z01:00\"", 0, NULL, 0 },
	{ "ts-month-13", LATEST("2024-13-01T10:00:00Z"), 0, "not RFC 3339",
	    0, NULL, 0 },
	{ "ts-month-0", LATEST("2024-00-01T10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-feb-30", LATEST("2024-02-30T10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-non-leap", LATEST("2023-02-29T10:00:00Z"), 0, "not RFC 3339",
	    0, NULL, 0 },
	{ "ts-1900-non-leap", LATEST("1900-02-29T10:00:00Z"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-day-0", LATEST("2024-01-00T10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-apr-31", LATEST("2024-04-31T10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-hour-24", LATEST("2024-01-01T24:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-min-60", LATEST("2024-01-01T23:60:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-sec-60", LATEST("2024-01-01T23:59:60Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-lower-t", LATEST("2024-01-01t10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-space", LATEST("2024-01-01 10:00:00Z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-lower-z", LATEST("2024-01-01T10:00:00z"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-no-zone", LATEST("2024-01-01T10:00:00"), 0, "not RFC 3339", 0,
	    NULL, 0 },
	{ "ts-short-offset", LATEST("2024-01-01T10:00:00+1:00"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-offset-no-colon", LATEST("2024-01-01T10:00:00+0100"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-offset-24", LATEST("2024-01-01T10:00:00+24:00"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-offset-min-60", LATEST("2024-01-01T10:00:00+01:60"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-empty-fraction", LATEST("2024-01-01T10:00:00.Z"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-comma-fraction", LATEST("2024-01-01T10:00:00,5Z"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-5-digit-year", LATEST("12024-01-01T10:00:00Z"), 0,
	    "not RFC 3339", 0, NULL, 0 },
	{ "ts-date-only", LATEST("2024-01-01"), 0, "not RFC 3339", 0, NULL,
	    0 },
	{ "ts-trailing", LATEST("2024-01-01T10:00:00Zx"), 0, "not RFC 3339",
	    0, NULL, 0 },
	{ "ts-empty", LATEST(""), 0, "not RFC 3339: \"\"", 0, NULL, 0 },
	{ "ts-number", NODE("'latest':{'x':{'timestamp':1,'value':'v'}}"), 0,
	    "latest.x.timestamp: expected string, got integer", 0, NULL, 0 },
	{ "latest-value-number", NODE("'latest':{'x':{'timestamp':'" TS1
	    "','value':5}}"), 0,
	    "latest.x.value: expected string, got integer", 0, NULL, 0 },
	{ "latest-value-null", NODE("'latest':{'x':{'timestamp':'" TS1
	    "','value':null}}"), 0, "latest.x.value: expected string, got "
	    "null", 0, NULL, 0 },
	{ "latest-value-missing", NODE("'latest':{'x':{'timestamp':'" TS1
	    "'}}"), 0, "latest.x.value: missing", 0, NULL, 0 },
	{ "latest-ts-missing", NODE("'latest':{'x':{'value':'v'}}"), 0,
	    "latest.x.timestamp: missing", 0, NULL, 0 },
	{ "latest-entry-string", NODE("'latest':{'x':'v'}"), 0,
	    "latest.x: expected object, got string", 0, NULL, 0 },
	{ "latest-odd-key-path", NODE("'latest':{'a b\\\"c':{'value':'v'}}"),
	    0, "latest[\"a b\\\"c\"].timestamp: missing", 0, NULL, 0 },

	/* metrics. */
	{ "sample-value-string", METRIC(SAMPLE(TS1, "'1'")), 0,
	    "metrics.m.samples[0].value: expected number, got string", 0,
	    NULL, 0 },
	{ "sample-value-inf", METRIC(SAMPLE(TS1, "1e999")), 0,
	    "samples[0].value: number out of range (not finite): \"1e999\"",
	    0, NULL, 0 },
	{ "sample-value-neg-inf", METRIC(SAMPLE(TS1, "-1e400")), 0,
	    "not finite", 0, NULL, 0 },
	{ "sample-descending", METRIC(SAMPLE(TS2, "1") "," SAMPLE(TS1, "2")),
	    0, "samples[1].date: earlier than the previous sample", 0, NULL,
	    0 },
	{ "sample-duplicate", METRIC(SAMPLE(TS1, "1") "," SAMPLE(TS1, "2")),
	    0, "samples[1].date: same date as the previous sample", 0, NULL,
	    0 },
	{ "sample-same-instant", METRIC(SAMPLE("2024-03-01T10:00:00Z", "1")
	    "," SAMPLE("2024-03-01T11:00:00+01:00", "2")), 0,
	    "same date as the previous sample", 0, NULL, 0 },
	{ "sample-fraction-order", METRIC(SAMPLE("2024-03-01T10:00:00.5Z",
	    "1") "," SAMPLE("2024-03-01T10:00:00.25Z", "2")), 0,
	    "earlier than the previous sample", 0, NULL, 0 },
	{ "sample-missing-date", METRIC("{'value':1}"), 0,
	    "samples[0].date: missing", 0, NULL, 0 },
	{ "sample-missing-value", METRIC("{'date':'" TS1 "'}"), 0,
	    "samples[0].value: missing", 0, NULL, 0 },
	{ "sample-bad-date", METRIC(SAMPLE("yesterday", "1")), 0,
	    "samples[0].date: not RFC 3339: \"yesterday\"", 0, NULL, 0 },
	{ "samples-object", NODE("'metrics':{'m':{'samples':{}}}"), 0,
	    "metrics.m.samples: expected array, got object", 0, NULL, 0 },
	{ "metric-min-string", NODE("'metrics':{'m':{'min':'0'}}"), 0,
	    "metrics.m.min: expected number, got string", 0, NULL, 0 },
	{ "metric-max-inf", NODE("'metrics':{'m':{'max':2e308}}"), 0,
	    "metrics.m.max: number out of range", 0, NULL, 0 },

	/* sets, parents, adjacency. */
	{ "set-unsorted", NODE("'sets':{'s':['b','a']}"), 0,
	    "sets.s[1]: not sorted ascending (byte order): \"a\"", 0, NULL,
	    0 },
	{ "set-duplicate", NODE("'sets':{'s':['a','a']}"), 0,
	    "sets.s[1]: duplicate entry: \"a\"", 0, NULL, 0 },
	{ "set-case-order", NODE("'sets':{'s':['a','B']}"), 0,
	    "not sorted ascending", 0, NULL, 0 },
	{ "set-prefix-order", NODE("'sets':{'s':['ab','a']}"), 0,
	    "not sorted ascending", 0, NULL, 0 },
	{ "set-number", NODE("'sets':{'s':[1]}"), 0,
	    "sets.s[0]: expected string, got integer", 0, NULL, 0 },
	{ "set-string", NODE("'sets':{'s':'a'}"), 0,
	    "sets.s: expected array, got string", 0, NULL, 0 },
	{ "parents-unsorted", NODE("'parents':{'host':['z;<host>',"
	    "'a;<host>']}"), 0, "parents.host[1]: not sorted ascending", 0,
	    NULL, 0 },
	{ "adjacency-unsorted", NODE("'adjacency':['b','a']"), 0,
	    "adjacency[1]: not sorted ascending", 0, NULL, 0 },
	{ "adjacency-object", NODE("'adjacency':{}"), 0,
	    "adjacency: expected array, got object", 0, NULL, 0 },

	/* legacy node members. */
	{ "counters-fraction", NODE("'counters':{'n':1.5}"), 0,
	    "counters.n: expected integer, got number", 0, NULL, 0 },
	{ "lcontrol-dead-string", NODE("'latestControls':{'c':{'timestamp':'"
	    TS1 "','value':{'dead':'no'}}}"), 0,
	    "latestControls.c.value.dead: expected boolean, got string", 0,
	    NULL, 0 },
	{ "lcontrol-bad-ts", NODE("'latestControls':{'c':{'timestamp':'now'"
	    "}}"), 0, "latestControls.c.timestamp: not RFC 3339", 0, NULL,
	    0 },

	/* templates and controls. */
	{ "mdt-id-mismatch", R("'Host':{'metadata_templates':{'k':{'id':"
	    "'j'}}}"), 0, "Host.metadata_templates.k.id: template id differs "
	    "from its map key: \"j\"", 0, NULL, 0 },
	{ "mdt-id-missing", R("'Host':{'metadata_templates':{'k':{'label':"
	    "'K'}}}"), 0, "Host.metadata_templates.k.id: missing", 0, NULL,
	    0 },
	{ "mdt-priority-string", MDT("'priority':'1'"), 0,
	    "metadata_templates.k.priority: expected number, got string", 0,
	    NULL, 0 },
	{ "mdt-from", MDT("'from':'metrics'"), 0,
	    "metadata_templates.k.from: must be \"latest\"", 0, NULL, 0 },
	{ "mdt-datatype", MDT("'dataType':'text'"), 0,
	    "metadata_templates.k.dataType: unknown dataType", 0, NULL, 0 },
	{ "mdt-truncate-fraction", MDT("'truncate':1.5"), 0,
	    "metadata_templates.k.truncate: expected integer, got number", 0,
	    NULL, 0 },
	{ "mdt-truncate-exponent", MDT("'truncate':1e2"), 0,
	    "expected integer, got number", 0, NULL, 0 },
	{ "mdt-truncate-huge", MDT("'truncate':99999999999999999999"), 0,
	    "truncate: integer out of range", 0, NULL, 0 },
	{ "mdt-label-array", MDT("'label':[]"), 0,
	    "metadata_templates.k.label: expected string, got array", 0, NULL,
	    0 },
	{ "mtt-format", R("'Host':{'metric_templates':{'m':{'id':'m',"
	    "'format':'percentage'}}}"), 0,
	    "metric_templates.m.format: unknown format", 0, NULL, 0 },
	{ "mtt-id-mismatch", R("'Host':{'metric_templates':{'m':{'id':'"
	    "M'}}}"), 0, "metric_templates.m.id: template id differs", 0,
	    NULL, 0 },
	{ "tt-type", R("'Host':{'table_templates':{'t':{'id':'t','type':"
	    "'grid'}}}"), 0, "table_templates.t.type: unknown table type", 0,
	    NULL, 0 },
	{ "tt-columns-object", R("'Host':{'table_templates':{'t':{'id':'t',"
	    "'columns':{}}}}"), 0,
	    "table_templates.t.columns: expected array, got object", 0, NULL,
	    0 },
	{ "tt-column-datatype", R("'Host':{'table_templates':{'t':{'id':'t',"
	    "'columns':[{'id':'c','dataType':'str'}]}}}"), 0,
	    "table_templates.t.columns[0].dataType: unknown dataType", 0,
	    NULL, 0 },
	{ "tt-fixedrows-number", R("'Host':{'table_templates':{'t':{'id':"
	    "'t','fixedRows':{'a':1}}}}"), 0,
	    "table_templates.t.fixedRows.a: expected string", 0, NULL, 0 },
	{ "multicolumn-no-underscores", R("'Host':{'nodes':{'n;<host>':{"
	    "'latest':{'tbl-r1':{'timestamp':'" TS1 "','value':'1'}}}},"
	    "'table_templates':{'tt':{'id':'tt','prefix':'tbl-','type':"
	    "'multicolumn-table'}}}"), 0,
	    "Host.nodes[\"n;<host>\"].latest.tbl-r1: key has multicolumn "
	    "table \"tt\"'s prefix \"tbl-\" but no \"___\"", 0, NULL, 0 },
	{ "multicolumn-template-first", R("'Host':{'table_templates':{'tt':{"
	    "'type':'multicolumn-table','prefix':'p_','id':'tt'}},'nodes':{"
	    "'n':{'latest':{'p_r__c':{'timestamp':'" TS1 "','value':'1'}}}}}"),
	    0, "Host.nodes.n.latest.p_r__c: key has multicolumn table", 0,
	    NULL, 0 },
	{ "multicolumn-empty-prefix", R("'Host':{'nodes':{'n':{'latest':{"
	    "'a___b':{'timestamp':'" TS1 "','value':'1'},'x':{'timestamp':'"
	    TS1 "','value':'1'}}}},'table_templates':{'tt':{'id':'tt','type':"
	    "'multicolumn-table'}}}"), 0, "latest.x: key has multicolumn", 0,
	    NULL, 0 },
	{ "control-rank-fraction", R("'Host':{'controls':{'c':{'id':'c',"
	    "'rank':1.5}}}"), 0, "Host.controls.c.rank: expected integer, got "
	    "number", 0, NULL, 0 },
	{ "control-human-number", R("'Host':{'controls':{'c':{'human':2}}}"),
	    0, "Host.controls.c.human: expected string", 0, NULL, 0 },
	{ "controls-array", R("'Host':{'controls':[]}"), 0,
	    "Host.controls: expected object, got array", 0, NULL, 0 },
	{ "template-dup-field", MDT("'label':'a','label':'b'"), 0,
	    "metadata_templates.k.label: duplicate key", 0, NULL, 0 },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ' -> " so that the cases stay readable. */
static char *
unquote(const char *s)
{
	char	*d = xstrdup(s), *p;

	for (p = d; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return d;
}

static int
run_case(const struct vcase *c)
{
	char		*json = c->raw ? xstrdup(c->json) : unquote(c->json);
	char		*cause = NULL;
	const char	*id = c->noid ? NULL : c->id ? c->id : ID;
	int		 r, ok;

	r = validate_report(json, strlen(json), id, c->controller, &cause);
	if (c->want == NULL)
		ok = r == 0 && cause == NULL;
	else
		ok = r == -1 && cause != NULL && strstr(cause, c->want) != NULL;
	printf("%s %s", ok ? "ok  " : "FAIL", c->name);
	if (!ok || cause != NULL)
		printf(" -> %s", cause ? cause : "accepted");
	if (!ok && c->want != NULL)
		printf(" (wanted: %s)", c->want);
	printf("\n");
	free(cause);
	free(json);
	return ok;
}

/* Cases that do not fit the table. */
static int
run_special(const char *name, int ok, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, detail ? " -> " : "",
	    detail ? detail : "");
	return ok;
}

int
main(void)
{
	size_t	 i, passed = 0, failed = 0, n;
	char	*cause, *big, *json;
	int	 ok;

	for (i = 0; i < NCASES; i++) {
		if (run_case(&cases[i]))
			passed++;
		else
			failed++;
	}

	/* The exact message of the brief's example. */
	json = unquote(LATEST("2016-07-20T15:51:05Z01:00"));
	validate_report(json, strlen(json), ID, 0, &cause);
	ok = cause != NULL && strcmp(cause, "Host.nodes[\"a;<host>\"].latest."
	    "x.timestamp: not RFC 3339: \"2016-07-20T15:51:05Z01:00\"") == 0;
	run_special("exact-message", ok, cause) ? passed++ : failed++;
	free(cause);
	free(json);

	/* Only len bytes are read: what follows is not garbage. */
	json = unquote("{" PL "}GARBAGE");
	n = strlen(json) - strlen("GARBAGE");
	ok = validate_report(json, n, ID, 0, &cause) == 0;
	run_special("len-bounded", ok, cause) ? passed++ : failed++;
	free(cause);
	free(json);

	/* 50 MiB + 1 is refused before parsing. */
	n = 50 * 1024 * 1024 + 1;
	big = xmalloc(n);
	memset(big, ' ', n);
	ok = validate_report(big, n, ID, 0, &cause) == -1 && cause != NULL &&
	    strstr(cause, "50 MiB") != NULL;
	run_special("over-50mib", ok, cause) ? passed++ : failed++;
	free(cause);

	/* Exactly 50 MiB of whitespace around a report is fine. */
	json = unquote("{" PL "}");
	memcpy(big, json, strlen(json));
	ok = validate_report(big, n - 1, ID, 0, &cause) == 0;
	run_special("exactly-50mib", ok, cause) ? passed++ : failed++;
	free(cause);
	free(json);

	/* Very deep input is refused at the bound, without recursion. */
	n = 1000000;
	memset(big, '[', n);
	ok = validate_report(big, n, ID, 0, &cause) == -1 && cause != NULL &&
	    strstr(cause, "must be a JSON object") != NULL;
	run_special("deep-array", ok, cause) ? passed++ : failed++;
	free(cause);
	memcpy(big, "{\"Host\":{\"nodes\":{\"a\":{\"x\":", 27);
	memset(big + 27, '[', n - 27);
	ok = validate_report(big, n, ID, 0, &cause) == -1 && cause != NULL &&
	    strstr(cause, "nested deeper than 64") != NULL;
	run_special("deep-in-node", ok, cause) ? passed++ : failed++;
	free(cause);
	free(big);

	/* The depth bound: 64 open containers in all (4 down to a node). */
	big = xmalloc(512);
	for (i = 60; i <= 61; i++) {
		n = (size_t)snprintf(big, 512, "{\"Host\":{\"nodes\":{\"a\":"
		    "{\"x\":");
		memset(big + n, '[', i);
		memset(big + n + i, ']', i);
		n += 2 * i;
		n += (size_t)snprintf(big + n, 512 - n, "}}},\"Plugins\":[{"
		    "\"id\":\"cpu-temp\",\"label\":\"L\",\"interfaces\":"
		    "[\"reporter\"],\"api_version\":\"1\"}]}");
		if (i == 60)
			ok = validate_report(big, n, ID, 0, &cause) == 0;
		else
			ok = validate_report(big, n, ID, 0, &cause) == -1 &&
			    strstr(cause, "nested deeper than 64 levels") != NULL;
		run_special(i == 60 ? "depth-64-ok" : "depth-65-refused", ok,
		    cause) ? passed++ : failed++;
		free(cause);
	}
	free(big);

	/* A long key is shortened in the message. */
	big = xmalloc(20000);
	n = (size_t)snprintf(big, 20000, "{\"Host\":{\"nodes\":{\"");
	memset(big + n, 'k', 10000);
	n += 10000;
	n += (size_t)snprintf(big + n, 20000 - n, "\":{\"id\":\"x\"}}}}");
	ok = validate_report(big, n, ID, 0, &cause) == -1 && cause != NULL &&
	    strlen(cause) < 300 && strstr(cause, "...") != NULL;
	run_special("long-key-shortened", ok, cause) ? passed++ : failed++;
	free(cause);
	free(big);

	/* Warnings: a multicolumn table whose rows have no name. */
	{
		static const struct {
			const char	*name;
			const char	*cols;		/* first column */
			const char	*cells;
			const char	*want;		/* NULL: no warning */
		} w[] = {
			{ "warn-named-ok", "{'id':'name','label':'Device'}",
			  "'d-sda___name':{'timestamp':'" TS1 "','value':'sda'},"
			  "'d-sda___rd':{'timestamp':'" TS1 "','value':'1 B/s'}",
			  NULL },
			{ "warn-numeric-first", "{'id':'rd','label':'Read',"
			  "'dataType':'number'}",
			  "'d-sda___rd':{'timestamp':'" TS1 "','value':'1'}",
			  "first column \"rd\" is a number" },
			{ "warn-row-without-name", "{'id':'name','label':'Device'}",
			  "'d-sda___name':{'timestamp':'" TS1 "','value':'sda'},"
			  "'d-vdb___rd':{'timestamp':'" TS1 "','value':'1 B/s'}",
			  "row \"vdb\" of node \"a;<host>\" has no cell in the "
			  "first column \"name\"" },
		};
		char	*warnings, buf[2048];

		for (i = 0; i < sizeof w / sizeof w[0]; i++) {
			snprintf(buf, sizeof buf, "{'Host':{'nodes':{'a;<host>':"
			    "{'latest':{%s}}},'table_templates':{'d':{'id':'d',"
			    "'label':'Disks','prefix':'d-','type':"
			    "'multicolumn-table','columns':[%s,{'id':'rd',"
			    "'label':'Read'}]}}}," PL "}", w[i].cells,
			    w[i].cols);
			json = unquote(buf);
			cause = warnings = NULL;
			ok = validate_report_warn(json, strlen(json), ID, 0,
			    &cause, &warnings) == 0 && (w[i].want == NULL ?
			    warnings == NULL : warnings != NULL &&
			    strstr(warnings, w[i].want) != NULL);
			run_special(w[i].name, ok, cause ? cause : warnings) ?
			    passed++ : failed++;
			free(cause);
			free(warnings);
			free(json);
		}
	}

	printf("%zu passed, %zu failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
