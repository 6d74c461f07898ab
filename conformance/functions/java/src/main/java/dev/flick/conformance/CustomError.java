package dev.flick.conformance;

/**
 * The `error` action's exception. The Java client reports errorType = the
 * exception's fully qualified class name: "dev.flick.conformance.CustomError".
 */
public class CustomError extends RuntimeException {
    public CustomError(String message) {
        super(message);
    }
}
