using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TalkingFace.Gateway.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class StageWarnings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Warnings",
                table: "stages",
                type: "TEXT",
                nullable: false,
                defaultValue: "[]");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Warnings",
                table: "stages");
        }
    }
}
