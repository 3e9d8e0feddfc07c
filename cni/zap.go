package cni

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func newZap(cfg zapcore.EncoderConfig, w io.Writer, level zap.AtomicLevel) *zap.Logger {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(w), level)
	return zap.New(core).With(zap.String("logger", "palisade-cni"))
}
