// Command ckafka_lag runs the ckafka_lag input under Telegraf's execd shim:
//
//	[[inputs.execd]]
//	  command = ["ckafka_lag", "-config", "/etc/telegraf/ckafka_lag.conf", "-poll_interval_disabled"]
//	  signal = "STDIN"
//
// With -once it collects once, prints line protocol and exits non-zero if
// the collection reported an error.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/inputs/ckafka_lag"
)

func main() {
	os.Exit(run())
}

func run() int {
	configFile := flag.String("config", "", "path to the plugin config file (TOML with one [[inputs.ckafka_lag]] table)")
	pollInterval := flag.Duration("poll_interval", time.Minute, "how often to collect when not driven by inputs.execd")
	pollDisabled := flag.Bool("poll_interval_disabled", false, "collect only when a line arrives on stdin (inputs.execd signal = \"STDIN\")")
	once := flag.Bool("once", false, "collect once, print line protocol to stdout and exit; non-zero exit if any error was reported")
	debug := flag.Bool("debug", false, "log debug messages")
	flag.Parse()

	if err := execd.SetupLogging(os.Stderr, *debug); err != nil {
		fmt.Fprintf(os.Stderr, "E! Setting up logging: %v\n", err)
		return 1
	}
	log := logger.New("inputs", "ckafka_lag", "")
	if *configFile == "" {
		log.Error("Missing -config FILE")
		return 2
	}

	plugin := ckafka_lag.New()
	if err := execd.LoadPlugin(*configFile, "inputs", "ckafka_lag", plugin); err != nil {
		log.Errorf("Loading config: %v", err)
		return 1
	}

	if *once {
		plugin.Log = log
		if err := plugin.Init(); err != nil {
			log.Errorf("Initializing ckafka_lag: %v", err)
			return 1
		}
		out := bufio.NewWriterSize(os.Stdout, 64<<10)
		plugin.CollectOnce()
		errs, err := execd.GatherOnce(plugin, out, log)
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			log.Error(err)
			return 1
		}
		if errs > 0 {
			return 1
		}
		return 0
	}

	s := shim.New()
	if err := s.AddInput(plugin); err != nil {
		log.Errorf("Initializing ckafka_lag: %v", err)
		return 1
	}
	interval := *pollInterval
	if *pollDisabled {
		interval = shim.PollIntervalDisabled
	}
	err := s.Run(interval)
	// Leaving the HA pair's group hands collection over at once.
	plugin.Stop()
	if err != nil {
		log.Errorf("Running: %v", err)
		return 1
	}
	return 0
}
