package ingress

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// securityHeaders sets the API response headers OWASP's REST cheat sheet
// asks for on every response.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		return next(c)
	}
}

// observe counts and logs every request. It logs the path and route, never
// the query string (it may hold the token) or any header.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // render now, so the status below is the one sent
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.Requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		// Check first: at the default level the fields are never built.
		if ce := s.logger.Check(zap.DebugLevel, "request"); ce != nil {
			ce.Write(zap.String("method", c.Request().Method), zap.String("path", c.Request().URL.Path),
				zap.String("route", route), zap.Int("status", status), zap.Duration("duration", time.Since(start)))
		}
		return nil
	}
}

// recoverPanic turns a panic in a handler into a 500 (and a log line with the
// stack) instead of a dropped connection.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.Error("handler panic", zap.Any("panic", r), zap.Stack("stack"))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}
