using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class RefusalTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> BadNames => new()
    {
        "has space",
        "a/b",
        "café",
        "日本",
        new string('a', 64),
        "",
        "-leading-dash",
        ".leading-dot",
        "semi;colon",
        "new\nline",
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task CreateAsync_InvalidName_RefusedAndNothingCreated(string name)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), name), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.InvalidName>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Contains("letters, digits", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Theory]
    [InlineData("Bad Image!")]
    [InlineData("UPPER/case")]
    [InlineData("image with spaces:1")]
    [InlineData("../etc/passwd")]
    public async Task CreateAsync_InvalidImageReference_RefusedAndNothingCreated(string image)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName(), image), cancellationToken: Ct);

        Assert.IsType<Refusals.InvalidImage>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Theory]
    [InlineData("123456789012345678", true)]
    [InlineData("80351110224678912", true)]
    [InlineData("abc", false)]
    [InlineData("-5", false)]
    [InlineData("12 34", false)]
    [InlineData("0", false)]
    [InlineData("123456789012345678901", false)]
    [InlineData("99999999999999999999", false)]
    [InlineData("", false)]
    public void OwnerIdTryParse_Input_AcceptsOnlySnowflakes(string text, bool valid)
        => Assert.Equal(valid, OwnerId.TryParse(text, out _));

    [Theory]
    [InlineData("ubuntu:24.04", true)]
    [InlineData("busybox", true)]
    [InlineData("registry.example.com:5000/team/image:tag", true)]
    [InlineData("Bad Image!", false)]
    [InlineData("", false)]
    public void ImageReferenceIsValid_Input_Expected(string image, bool valid)
        => Assert.Equal(valid, ImageReference.IsValid(image));
}
