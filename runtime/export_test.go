package runtime

// Parse runs the checks Open makes in Go, before onnxruntime sees a file,
// so that tests can tell a rejection there from one by onnxruntime.
func Parse(data []byte) error {
	_, _, err := parse(data)
	return err
}
