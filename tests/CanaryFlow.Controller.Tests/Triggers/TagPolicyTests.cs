using CanaryFlow.Controller.Triggers;
using CanaryFlow.Controller.Triggers.Matching;

namespace CanaryFlow.Controller.Tests.Triggers;

public sealed class TagPolicyTests
{
    [Theory]
    [InlineData(">=1.2.0 <2.0.0", "1.2.0", true)]
    [InlineData(">=1.2.0 <2.0.0", "v1.9.3", true)]
    [InlineData(">=1.2.0 <2.0.0", "2.0.0", false)]
    [InlineData(">=1.2.0 <2.0.0", "1.1.9", false)]
    [InlineData("^1.2.3", "1.9.0", true)]
    [InlineData("^1.2.3", "2.0.0", false)]
    [InlineData("^0.2.3", "0.2.9", true)]
    [InlineData("^0.2.3", "0.3.0", false)]
    [InlineData("~1.2.3", "1.2.9", true)]
    [InlineData("~1.2.3", "1.3.0", false)]
    [InlineData("1.2.x", "1.2.7", true)]
    [InlineData("1.2.x", "1.3.0", false)]
    [InlineData("1.x || >=3.0.0", "3.1.0", true)]
    [InlineData("1.x || >=3.0.0", "2.5.0", false)]
    [InlineData("1.0.0 - 1.4", "1.4.9", true)]
    [InlineData("1.0.0 - 1.4", "1.5.0", false)]
    [InlineData("*", "7.0.0", true)]
    [InlineData(">= 1.0.0", "1.0.1", true)]
    [InlineData("^1.2.0", "1.3.0-rc.1", false)]
    [InlineData(">=1.3.0-rc.1 <2.0.0", "1.3.0-rc.2", true)]
    [InlineData(">=1.3.0-rc.1 <2.0.0", "1.3.0-beta", false)]
    [InlineData(">=1.0.0", "latest", false)]
    [InlineData(">=1.0.0", "01.2.3", false)]
    public void Semver_policy_matches_tags_as_npm_ranges_do(string range, string tag, bool expected) =>
        Assert.Equal(expected, TagPolicyMatcher.Matches(new TagPolicy("semver", range), tag));

    // Where the Semver package (npm rules, SemVer 2.0 grammar) answers differently from the hand-written
    // parser it replaced: each answer here is the spec's.
    [Theory]
    [InlineData(">=1.0.0", "1.2.3-x_y", false)]          // '_' is not allowed in a prerelease identifier
    [InlineData(">=1.2.3-rc.1", "1.2.3-01", false)]      // numeric identifiers have no leading zeros
    [InlineData("1.x.3", "1.2.3", false)]                // a number after a wildcard is not a range
    [InlineData("> =1.0.0", "1.2.0", false)]             // "> =" is not an operator
    [InlineData(">=1.0.0", "3000000000.0.0", true)]      // version numbers are not capped at int.MaxValue
    [InlineData("~>1.2", "1.2.7", true)]                 // npm's "~>" is "~"
    public void Semver_policy_follows_the_semver_grammar_where_the_old_parser_was_loose(string range, string tag, bool expected) =>
        Assert.Equal(expected, TagPolicyMatcher.Matches(new TagPolicy("semver", range), tag));

    [Theory]
    [InlineData("exact", "v1", "v1", true)]
    [InlineData("exact", "v1", "v10", false)]
    [InlineData("regex", @"v\d+", "v10", true)]
    [InlineData("regex", @"v\d+", "v10-debug", false)]
    [InlineData("regex", "(", "v1", false)]
    [InlineData("semver", "not a range", "1.0.0", false)]
    [InlineData("unknown", "v1", "v1", false)]
    public void Exact_and_regex_policies_match_the_whole_tag_and_invalid_policies_match_nothing(string kind, string value, string tag, bool expected) =>
        Assert.Equal(expected, TagPolicyMatcher.Matches(new TagPolicy(kind, value), tag));

    [Theory]
    [InlineData("nginx", "docker.io/library/nginx")]
    [InlineData("index.docker.io/library/nginx", "docker.io/library/nginx")]
    [InlineData("svendowideit/testhook", "docker.io/svendowideit/testhook")]
    [InlineData("GHCR.io/Octo-Org/hello", "ghcr.io/octo-org/hello")]
    [InlineData("localhost:5000/app", "localhost:5000/app")]
    public void Repository_names_are_compared_in_docker_canonical_form(string name, string canonical) =>
        Assert.Equal(canonical, ImageReferences.NormalizeRepository(name));
}
