// Command wecom_sms_mail runs the wecom_sms_mail output under Telegraf's
// execd shim:
//
//	[[outputs.execd]]
//	  command = ["wecom_sms_mail", "-config", "/etc/telegraf/wecom_sms_mail.conf"]
//	  namepass = ["ckafka_lag", "ckafka_lag_gather"]
//
// With -test-notify it sends one test message to every destination and
// prints "ok" or the error for each. With -silence it manages silences:
//
//	wecom_sms_mail -config FILE -silence add -match group=billing-* -for 2h -comment "backfill"
//	wecom_sms_mail -config FILE -silence list
//	wecom_sms_mail -config FILE -silence expire ID
//
// With -oncall it prints who is on call now, per roster, and manages
// overrides (swaps):
//
//	wecom_sms_mail -config FILE -oncall
//	wecom_sms_mail -config FILE -oncall override add -roster kafka -who 李四 -until 2026-12-08T09:00:00+08:00
//	wecom_sms_mail -config FILE -oncall override list
//	wecom_sms_mail -config FILE -oncall override expire ID
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail"
)

func main() {
	os.Exit(run())
}

func run() int {
	configFile := flag.String("config", "", "path to the plugin config file (TOML with one [[outputs.wecom_sms_mail]] table)")
	testNotify := flag.Bool("test-notify", false, "send a test message to every configured channel, print ok or the error for each, and exit")
	debugLog := flag.Bool("debug", false, "log debug messages")
	silence := flag.String("silence", "", "manage silences: add, list or expire ID")
	onCall := flag.Bool("oncall", false, "print who is on call now per roster; with arguments: override add|list|expire")
	placeCall := flag.Bool("call", false, "with -test-notify: also place one test call on the voice channel")
	preview := flag.String("preview", "", "read line protocol from this file (- for stdin) and print what would be sent to each destination; sends nothing")
	previewOut := flag.String("out", "", "with -preview: write the email HTML and the chart PNGs to this directory")
	var matchers stringList
	flag.Var(&matchers, "match", "with -silence add: tag=glob the alerts must match (repeatable; all must match)")
	silenceFor := flag.Duration("for", 0, "with -silence add: how long the silence lasts (e.g. 2h)")
	comment := flag.String("comment", "", "with -silence add: why")
	author := flag.String("author", os.Getenv("USER"), "with -silence add: who")
	flag.Parse()

	if err := execd.SetupLogging(os.Stderr, *debugLog); err != nil {
		fmt.Fprintf(os.Stderr, "E! Setting up logging: %v\n", err)
		return 1
	}
	log := logger.New("outputs", "wecom_sms_mail", "")
	if *configFile == "" {
		log.Error("Missing -config FILE")
		return 2
	}
	plugin := wecom_sms_mail.New()
	if err := execd.LoadPlugin(*configFile, "outputs", "wecom_sms_mail", plugin); err != nil {
		log.Errorf("Loading config: %v", err)
		return 1
	}

	if *onCall {
		return oncallCommand(plugin, flag.Args(), *author, os.Stdout, log)
	}

	if *silence != "" {
		return silenceCommand(plugin, *silence, flag.Args(), matchers, *silenceFor, *author, *comment, log)
	}

	if *preview != "" {
		plugin.Log = log
		if err := plugin.Init(); err != nil {
			log.Errorf("Initializing wecom_sms_mail: %v", err)
			return 1
		}
		in := os.Stdin
		if *preview != "-" {
			f, err := os.Open(*preview)
			if err != nil {
				log.Errorf("-preview: %v", err)
				return 1
			}
			defer f.Close()
			in = f
		}
		if err := plugin.Preview(in, os.Stdout, *previewOut); err != nil {
			log.Errorf("-preview: %v", err)
			return 1
		}
		return 0
	}

	if *testNotify {
		plugin.Log = log
		if err := plugin.Init(); err != nil {
			log.Errorf("Initializing wecom_sms_mail: %v", err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		plugin.TestCall = *placeCall
		if err := plugin.TestNotify(ctx, os.Stdout); err != nil {
			return 1
		}
		return 0
	}

	// The shim wires the logger and runs Init exactly as for any external
	// output; stdin is then read by execd.RunOutput (see its comment for
	// why not the shim's own loop).
	s := shim.New()
	if err := s.AddOutput(plugin); err != nil {
		log.Errorf("Initializing wecom_sms_mail: %v", err)
		return 1
	}
	// The shim handles no signal in output mode; without this a SIGTERM
	// would drop whatever is pending.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		log.Infof("Received %s: flushing and saving state", sig)
		if err := plugin.Close(); err != nil {
			log.Errorf("Closing: %v", err)
		}
		os.Exit(0)
	}()
	if err := execd.RunOutput(plugin, os.Stdin, log); err != nil {
		log.Errorf("Running: %v", err)
		return 1
	}
	return 0
}
