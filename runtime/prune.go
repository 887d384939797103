package runtime

import (
	"fmt"
	"slices"
	"sync"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// A model file holds two graphs in one: log-prob (x, θ → log_prob) and
// sampling (x, noise → sample, sample_log_prob). onnxruntime runs every node
// of a session on every call, whatever outputs are asked for, so a single
// session would run the other graph's nodes on empty tensors: for small
// calls that overhead is as large as the work asked for. Each graph gets its
// own session, built from the file's nodes that its outputs depend on.

// path is one graph's session and where its inputs and outputs sit in
// format.Inputs and format.Outputs.
type path struct {
	sess    *ort.DynamicAdvancedSession
	inputs  []int
	outputs []int
}

// openPaths builds the log-prob and sampling sessions of mp, at once:
// onnxruntime spends most of an open optimising the graph, on one core.
func openPaths(mp *onnxpb.ModelProto, l format.Layout, so *ort.SessionOptions) ([2]*path, error) {
	var (
		ps   [2]*path
		errs [2]error
		wg   sync.WaitGroup
	)
	for i, outs := range [2][]string{
		{l.LogOut},
		{format.OutputSample, format.OutputSampleLog},
	} {
		if i == 1 && !l.Sampling {
			break
		}
		data, ins, err := prune(mp, outs)
		if err != nil {
			return ps, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i], errs[i] = openPath(data, ins, outs, so)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil { // the same file: one message says it
			closePaths(ps)
			return [2]*path{}, err
		}
	}
	return ps, nil
}

func openPath(data []byte, ins, outs []string, so *ort.SessionOptions) (*path, error) {
	p := &path{}
	for _, n := range ins {
		p.inputs = append(p.inputs, slices.Index(format.Inputs, n))
	}
	for _, n := range outs {
		p.outputs = append(p.outputs, slices.Index(format.Outputs, n))
	}
	var err error
	if p.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(data, ins, outs, so); err != nil {
		return nil, fmt.Errorf("%w: onnxruntime cannot load it: %v", ErrContract, err)
	}
	return p, nil
}

func closePaths(ps [2]*path) error {
	var first error
	for _, p := range ps {
		if p != nil {
			if err := p.sess.Destroy(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// run evaluates the path on vals, the tensors of format.Inputs followed by
// those of format.Outputs.
func (p *path) run(vals []ort.Value) error {
	var buf [7]ort.Value
	in, out := buf[:0], buf[len(p.inputs):len(p.inputs)]
	for _, i := range p.inputs {
		in = append(in, vals[i])
	}
	for _, i := range p.outputs {
		out = append(out, vals[len(format.Inputs)+i])
	}
	return p.sess.Run(in, out)
}

// prune serialises the part of mp that computes outputs, and lists the
// graph inputs that part reads, in the file's order.
func prune(mp *onnxpb.ModelProto, outputs []string) ([]byte, []string, error) {
	g := mp.GetGraph()
	producer := make(map[string]int, len(g.GetNode()))
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = i
		}
	}
	keep := make([]bool, len(g.GetNode()))
	used := make(map[string]bool)
	stack := slices.Clone(outputs)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if used[name] {
			continue
		}
		used[name] = true
		i, ok := producer[name]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		stack = append(stack, nodeReads(g.GetNode()[i], 0)...)
	}
	sub := &onnxpb.GraphProto{Name: g.Name}
	for i, n := range g.GetNode() {
		if keep[i] {
			sub.Node = append(sub.Node, n)
		}
	}
	for _, t := range g.GetInitializer() {
		if used[t.GetName()] {
			sub.Initializer = append(sub.Initializer, t)
		}
	}
	var inputs []string
	for _, v := range g.GetInput() {
		if used[v.GetName()] {
			sub.Input = append(sub.Input, v)
			if slices.Contains(format.Inputs, v.GetName()) {
				inputs = append(inputs, v.GetName())
			}
		}
	}
	for _, v := range g.GetOutput() {
		if slices.Contains(outputs, v.GetName()) {
			sub.Output = append(sub.Output, v)
		}
	}
	for _, v := range g.GetValueInfo() {
		if used[v.GetName()] {
			sub.ValueInfo = append(sub.ValueInfo, v)
		}
	}
	data, err := proto.Marshal(&onnxpb.ModelProto{
		IrVersion:   mp.IrVersion,
		OpsetImport: mp.GetOpsetImport(),
		Graph:       sub,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
	}
	return data, inputs, nil
}

// nodeReads lists the values n reads, including those its subgraphs (If,
// Loop, Scan bodies) capture from the enclosing graph. Names the subgraphs
// define themselves are listed too; they match nothing outside and are
// ignored.
func nodeReads(n *onnxpb.NodeProto, depth int) []string {
	names := slices.Clone(n.GetInput())
	if depth >= maxDepth {
		return names
	}
	for _, a := range n.GetAttribute() {
		gs := a.GetGraphs()
		if a.GetG() != nil {
			gs = append(gs, a.GetG())
		}
		for _, sub := range gs {
			for _, sn := range sub.GetNode() {
				names = append(names, nodeReads(sn, depth+1)...)
			}
		}
	}
	return names
}
