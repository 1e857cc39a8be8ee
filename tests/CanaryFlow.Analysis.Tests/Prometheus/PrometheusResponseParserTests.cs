using System.Text;
using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Analysis.Tests.Prometheus;

// Bodies taken from the Prometheus HTTP API documentation's examples.
public class PrometheusResponseParserTests
{
    private static PromQueryResult Parse(string json, int status = 200) => PrometheusResponseParser.Parse(Encoding.UTF8.GetBytes(json), status);

    [Fact]
    public void Vector_result_keeps_labels_timestamps_and_values()
    {
        var r = Parse("""
            {"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1435781451.781,"1"]},
              {"metric":{"__name__":"up","job":"node","instance":"localhost:9100"},"value":[1435781451.781,"0"]}]}}
            """);
        Assert.Equal(PromResultType.Vector, r.ResultType);
        Assert.Equal(2, r.Vector.Count);
        Assert.Equal("node", r.Vector[1].Labels["job"]);
        Assert.Equal(0, r.Vector[1].Point.Value);
        Assert.Equal(1435781451781, r.Vector[0].Point.Timestamp.ToUnixTimeMilliseconds());
        Assert.Empty(r.Warnings);
    }

    [Fact]
    public void Matrix_result_has_series_of_points()
    {
        var r = Parse("""
            {"status":"success","data":{"resultType":"matrix","result":[
              {"metric":{"job":"node"},"values":[[1435781430.781,"1"],[1435781445.781,"NaN"],[1435781460.781,"+Inf"]]}]}}
            """);
        Assert.Equal(PromResultType.Matrix, r.ResultType);
        var points = r.Matrix.Single().Points;
        Assert.Equal(3, points.Count);
        Assert.True(double.IsNaN(points[1].Value));
        Assert.Equal(double.PositiveInfinity, points[2].Value);
    }

    [Fact]
    public void Scalar_and_string_results_are_read()
    {
        var scalar = Parse("""{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"-Inf"]}}""");
        Assert.Equal(double.NegativeInfinity, scalar.Scalar!.Value.Value);
        var text = Parse("""{"status":"success","data":{"resultType":"string","result":[1435781451.781,"hello"]}}""");
        Assert.Equal("hello", text.Text);
    }

    [Fact]
    public void Warnings_are_returned()
    {
        var r = Parse("""{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["PromQL info: metric might not be a counter"]}""");
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void Status_error_with_bad_data_is_a_final_query_error()
    {
        var e = Assert.Throws<PrometheusQueryException>(() =>
            Parse("""{"status":"error","errorType":"bad_data","error":"parse error at char 5: unexpected"}""", 400));
        Assert.IsNotType<PrometheusUnavailableException>(e);
        Assert.Equal("bad_data", e.ErrorType);
        Assert.Contains("parse error", e.Error);
    }

    [Theory]
    [InlineData("""{"status":"error","errorType":"timeout","error":"query timed out"}""", 503)]
    [InlineData("""{"status":"error","errorType":"unavailable","error":"shutting down"}""", 503)]
    [InlineData("<html>bad gateway</html>", 502)]
    public void Overload_and_outage_answers_are_transient(string body, int status)
    {
        Assert.Throws<PrometheusUnavailableException>(() => Parse(body, status));
    }

    [Fact]
    public void A_non_json_401_is_final_not_retried()
    {
        var e = Assert.Throws<PrometheusQueryException>(() => Parse("Unauthorized", 401));
        Assert.IsNotType<PrometheusUnavailableException>(e);
    }

    [Fact]
    public void A_malformed_sample_is_reported_not_thrown_raw()
    {
        Assert.ThrowsAny<PrometheusQueryException>(() =>
            Parse("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}"""));
    }
}
