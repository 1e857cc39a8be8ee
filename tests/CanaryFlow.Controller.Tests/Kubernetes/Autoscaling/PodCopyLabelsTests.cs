using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>The labels of each copy, without a server: what a selector of one matches of another's pods.</summary>
public sealed class PodCopyLabelsTests
{
    private static V1Deployment Target(string app) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web" },
        Spec = new V1DeploymentSpec
        {
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = app, ["tier"] = "front" } },
            Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = app, ["tier"] = "front", ["team"] = "a" } } },
        },
    };

    [Fact]
    public void No_copys_selector_matches_another_copys_pods_or_the_targets_and_long_values_stay_within_63_characters()
    {
        foreach (var app in new[] { "web", new string('w', 63) })
        {
            var target = Target(app);
            var copies = Enum.GetValues<PodCopy>();
            // Each copy made from the template of any other (as the baseline from the primary, a new primary from the hand-over).
            foreach (var copy in copies)
                foreach (var from in copies)
                {
                    var template = PrimaryLabels.Template(PrimaryLabels.Template(target.Spec.Template, target, "track", from), target, "track", copy);
                    Assert.Equal(PrimaryLabels.Selector(target, "track", copy).OrderBy(l => l.Key),
                        template.Metadata.Labels.Where(l => l.Key != "team").OrderBy(l => l.Key));
                    Assert.All(template.Metadata.Labels.Values, v => Assert.True(v.Length <= 63, v));
                    Assert.Equal("a", template.Metadata.Labels["team"]); // the user's other labels stay
                    foreach (var other in copies.Where(o => o != copy))
                        Assert.False(PrimaryLabels.Selector(target, "track", other).All(l => template.Metadata.Labels.TryGetValue(l.Key, out var v) && v == l.Value),
                            $"{other}'s selector matches {copy}'s pods");
                    Assert.False(target.Spec.Selector.MatchLabels.All(l => template.Metadata.Labels[l.Key] == l.Value), $"the target's selector matches {copy}'s pods");
                }
        }
    }
}
