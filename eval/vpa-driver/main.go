// Command vpa-driver replays usage samples through the upstream Vertical Pod Autoscaler recommender's own
// model and estimator packages (pinned in go.mod), so Tailor's evaluation can score upstream's exact output.
//
// Protocol: one JSON object per line on stdin, one container per process, samples in time order.
//
//	{"op":"cpu","t":<unix ms>,"v":<millicores>}   CPU usage sample (ContainerState.AddSample)
//	{"op":"mem","t":<unix ms>,"v":<bytes>}        memory working-set sample (ContainerState.AddSample)
//	{"op":"oom","t":<unix ms>,"v":<request bytes>} OOM kill at t with the memory request then in force (RecordOOM)
//	{"op":"rec","t":<unix ms>}                    ask for a recommendation; one JSON line is written and flushed
//
// Output: {"t":..,"target":{"cpu":m,"memory":b},"lower":{..},"upper":{..}} with upstream's default flags.
// Input errors are reported on stderr with the line number and end the process with status 2.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/logic"
	"k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/model"
)

type input struct {
	Op string `json:"op"`
	T  int64  `json:"t"`
	V  int64  `json:"v"`
}

type amounts struct {
	CPU    int64 `json:"cpu"`
	Memory int64 `json:"memory"`
}

type output struct {
	T      int64   `json:"t"`
	Target amounts `json:"target"`
	Lower  amounts `json:"lower"`
	Upper  amounts `json:"upper"`
}

// upstreamDefaults mirrors the recommender's flag defaults (docs/flags.md of the pinned release).
func upstreamDefaults() logic.RecommendationConfig {
	return logic.RecommendationConfig{
		SafetyMarginFraction:       0.15,
		PodMinCPUMillicores:        25,
		PodMinMemoryMb:             250,
		TargetCPUPercentile:        0.9,
		LowerBoundCPUPercentile:    0.5,
		UpperBoundCPUPercentile:    0.95,
		ConfidenceIntervalCPU:      24 * time.Hour,
		TargetMemoryPercentile:     0.9,
		LowerBoundMemoryPercentile: 0.5,
		UpperBoundMemoryPercentile: 0.95,
		ConfidenceIntervalMemory:   24 * time.Hour,
	}
}

func toAmounts(r model.Resources) amounts {
	return amounts{CPU: int64(r[model.ResourceCPU]), Memory: int64(r[model.ResourceMemory])}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vpa-driver:", err)
		os.Exit(2)
	}
}

func run() error {
	aggregate := model.NewAggregateContainerState()
	container := model.NewContainerState(model.Resources{}, aggregate)
	recommender := logic.CreatePodResourceRecommender(upstreamDefaults())
	states := model.ContainerNameToAggregateStateMap{"main": aggregate}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	line := 0
	for in.Scan() {
		line++
		var msg input
		if err := json.Unmarshal(in.Bytes(), &msg); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		at := time.UnixMilli(msg.T).UTC()
		switch msg.Op {
		case "cpu":
			container.AddSample(&model.ContainerUsageSample{MeasureStart: at, Usage: model.ResourceAmount(msg.V), Resource: model.ResourceCPU})
		case "mem":
			container.AddSample(&model.ContainerUsageSample{MeasureStart: at, Usage: model.ResourceAmount(msg.V), Resource: model.ResourceMemory})
		case "oom":
			// A rejected (stale) OOM is upstream behaviour, not an input error: it is logged and skipped.
			if err := container.RecordOOM(at, model.ResourceAmount(msg.V)); err != nil {
				fmt.Fprintf(os.Stderr, "vpa-driver: line %d: %v\n", line, err)
			}
		case "rec":
			rec := recommender.GetRecommendedPodResources(states)["main"]
			if err := enc.Encode(output{T: msg.T, Target: toAmounts(rec.Target), Lower: toAmounts(rec.LowerBound), Upper: toAmounts(rec.UpperBound)}); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: unknown op %q", line, msg.Op)
		}
	}
	if err := in.Err(); err != nil {
		return err
	}
	return out.Flush()
}
