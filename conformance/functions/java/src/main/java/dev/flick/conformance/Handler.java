package dev.flick.conformance;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Conformance fixture: the behaviours every conformance function implements, run
 * by the official Java runtime interface client
 * (handler "dev.flick.conformance.Handler::handleRequest"). Dispatches on
 * event["action"]; an event that is not an object is echoed.
 *
 * The client turns the JSON event into Maps, Lists, Strings and numbers, and the
 * returned value back into JSON. Its JSON mapper drops map entries whose value is
 * null, so a null context field is absent from the result.
 */
public class Handler implements RequestHandler<Object, Object> {

    @Override
    public Object handleRequest(Object event, Context context) {
        Map<?, ?> fields = event instanceof Map ? (Map<?, ?>) event : Map.of();
        String action = string(fields, "action", "echo");
        switch (action) {
            case "echo":
                return event;
            case "context":
                return context(context);
            case "env":
                return new TreeMap<>(System.getenv());
            case "error":
                throw new CustomError(string(fields, "message", "boom"));
            case "error_plain":
                throw new RuntimeException(string(fields, "message", "boom"));
            case "sleep":
                return sleep(number(fields, "ms", 0));
            case "crash":
                System.out.println("crashing on purpose");
                System.out.flush();
                System.exit(1);
                return null;
            case "log":
                return log(string(fields, "marker", "MARK"), number(fields, "n", 0));
            case "pid":
                return pid();
            case "log_no_newline":
                // The client's logger writes the bytes as they are: no newline is added.
                context.getLogger().log(string(fields, "marker", "MARK"));
                return Map.of("logged", 1);
            case "unhandled":
                return unhandled(string(fields, "message", "unhandled"));
            case "tmp_write":
                return tmpWrite(string(fields, "name", "file"), string(fields, "content", ""));
            case "tmp_read":
                return tmpRead(string(fields, "name", "file"));
            default:
                throw new IllegalArgumentException("unknown action \"" + action + "\"");
        }
    }

    private static Map<String, Object> context(Context context) {
        int remaining = context.getRemainingTimeInMillis();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("request_id", context.getAwsRequestId());
        out.put("invoked_function_arn", context.getInvokedFunctionArn());
        out.put("deadline_ms", System.currentTimeMillis() + remaining);
        out.put("remaining_ms", remaining);
        out.put("function_name", context.getFunctionName());
        out.put("function_version", context.getFunctionVersion());
        out.put("memory_limit_in_mb", context.getMemoryLimitInMB());
        out.put("log_group_name", context.getLogGroupName());
        out.put("log_stream_name", context.getLogStreamName());
        out.put("client_context", context.getClientContext());
        out.put("identity", context.getIdentity());
        out.put("trace_id", context.getXrayTraceId());
        return out;
    }

    private static Map<String, Object> sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("slept_ms", ms);
        out.put("pid", ProcessHandle.current().pid());
        out.put("runtime_api", System.getenv("AWS_LAMBDA_RUNTIME_API"));
        return out;
    }

    private static Map<String, Object> log(String marker, long n) {
        for (long i = 0; i < n; i++) {
            System.out.println(marker + " stdout " + i);
            System.err.println(marker + " stderr " + i);
        }
        System.out.flush();
        System.err.flush();
        return Map.of("logged", n);
    }

    private static Map<String, Object> pid() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("pid", ProcessHandle.current().pid());
        out.put("cwd", System.getProperty("user.dir"));
        out.put("init_type", System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"));
        return out;
    }

    /** Throws an exception with a cause, so that the client prints a stack trace of several lines. */
    private static Object unhandled(String message) {
        try {
            Integer.parseInt("not a number"); // throws: this becomes the cause
            return null;
        } catch (NumberFormatException cause) {
            throw new IllegalStateException(message, cause);
        }
    }

    private static boolean tmpWrite(String name, String content) {
        try {
            Files.writeString(Path.of("/tmp", name), content);
            return true;
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** The content of /tmp/NAME, or null when there is no such file. */
    private static String tmpRead(String name) {
        Path path = Path.of("/tmp", name);
        if (!Files.exists(path)) {
            return null;
        }
        try {
            return Files.readString(path);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static String string(Map<?, ?> fields, String key, String otherwise) {
        Object value = fields.get(key);
        return value == null ? otherwise : value.toString();
    }

    private static long number(Map<?, ?> fields, String key, long otherwise) {
        Object value = fields.get(key);
        return value instanceof Number ? ((Number) value).longValue() : otherwise;
    }
}
